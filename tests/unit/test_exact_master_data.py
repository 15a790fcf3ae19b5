"""Exact's master-data lists: kept for their time to live on the shared clock, read again
after it, and dropped for one division when a lookup in them failed a document."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from connector_exact.master_data import DivisionLists
from connector_exact.settings import ExactConnectorSettings
from invoicesync_shared import clock

START = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


class _Frozen:
    def __init__(self) -> None:
        self.at = START

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def frozen() -> Iterator[_Frozen]:
    moved = _Frozen()
    clock.use(moved)
    yield moved
    clock.use(clock.SystemClock())


class _Exact:
    """What a division holds now, and how often its list was read."""

    def __init__(self) -> None:
        self.codes = {"21": "2"}
        self.reads = 0

    async def load(self) -> dict[str, str]:
        self.reads += 1
        return dict(self.codes)


async def test_a_list_is_kept_for_its_time_to_live_and_read_again_after(frozen: _Frozen) -> None:
    lists: DivisionLists[str] = DivisionLists(timedelta(minutes=5))
    exact = _Exact()
    assert (await lists.find(1, "21", exact.load))[0] == "2"
    exact.codes["9"] = "1"  # added in Exact meanwhile

    frozen.at = START + timedelta(minutes=4, seconds=59)
    assert (await lists.find(1, "21", exact.load))[0] == "2"
    assert exact.reads == 1

    frozen.at = START + timedelta(minutes=5)
    found, codes = await lists.find(1, "21", exact.load)
    assert (found, exact.reads) == ("2", 2)
    assert codes == {"21": "2", "9": "1"}


async def test_forget_drops_one_divisions_list(frozen: _Frozen) -> None:
    lists: DivisionLists[str] = DivisionLists(timedelta(minutes=5))
    exact, other = _Exact(), _Exact()
    assert (await lists.find(1, "7", exact.load))[0] is None
    await lists.find(2, "21", other.load)
    exact.codes["7"] = "7"  # the bookkeeper's fix

    lists.forget(1)

    assert (await lists.find(1, "7", exact.load))[0] == "7"
    await lists.find(2, "21", other.load)
    assert (exact.reads, other.reads) == (2, 1)


def test_the_time_to_live_is_a_few_minutes_by_default_and_a_setting() -> None:
    assert ExactConnectorSettings().exact_master_data_ttl_seconds == 300.0
    changed = ExactConnectorSettings(exact_master_data_ttl_seconds=60.0)
    assert changed.exact_master_data_ttl_seconds == 60.0
