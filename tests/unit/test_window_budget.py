"""A spent minute window is waited out on the system's clock, and never for longer than
the window: a reset further away is a clock disagreement, not a longer window. An answer
within a window never gives back calls spent since (they were in flight when it was
counted), for the minute and for the day."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from invoicesync_shared import clock
from invoicesync_shared.connectors.errors import Deferred
from invoicesync_shared.connectors.rate_limit import DailyBudget, WindowBudget

BOUND = 10.0  # a wait of a day would fail here, not hang


class DayAhead:
    """The shared clock following a sandbox advanced by a day."""

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(days=1)


@pytest.fixture
def day_ahead() -> Iterator[None]:
    clock.use(DayAhead())
    yield
    clock.use(clock.SystemClock())


@pytest.mark.usefixtures("day_ahead")
async def test_the_reset_is_read_on_the_shared_clock() -> None:
    budget = WindowBudget(system="exact")
    reset_at = clock.now().timestamp() + 0.2  # the system's own time: a day ahead of ours
    budget.observe("1", remaining=0, reset_at=reset_at)
    await asyncio.wait_for(budget.acquire("1"), BOUND)
    assert 0 < budget.waited_seconds <= 0.2


async def test_a_wait_never_exceeds_the_window() -> None:
    budget = WindowBudget(system="exact", length=0.2)
    budget.observe("1", remaining=0, reset_at=clock.now().timestamp() + 3600)
    await asyncio.wait_for(budget.acquire("1"), BOUND)
    assert budget.waited_seconds == pytest.approx(0.2)


def test_an_earlier_calls_answer_does_not_give_back_the_calls_spent_since() -> None:
    """Two calls in flight when the day has two left: the first one's answer says one is
    left, but the second has taken it. A third call is deferred, not sent into a 429."""
    daily = DailyBudget()
    reset_at = clock.now().timestamp() + 3600
    daily.observe("1", remaining=2, reset_at=reset_at)
    daily.spend("1")  # the first call
    daily.spend("1")  # the second, before the first is answered
    daily.observe("1", remaining=1, reset_at=reset_at)  # the first call's answer

    with pytest.raises(Deferred) as deferred:
        daily.spend("1")
    assert deferred.value.reason == "daily_limit"


def test_an_answer_lowers_the_days_count_and_a_new_day_starts_afresh() -> None:
    daily = DailyBudget()
    today = clock.now().timestamp() + 3600
    daily.observe("1", remaining=5, reset_at=today)
    daily.observe("1", remaining=0, reset_at=today)  # another replica spent the rest
    with pytest.raises(Deferred):
        daily.spend("1")
    daily.observe("1", remaining=60, reset_at=today + 86_400)  # the next day's window
    daily.spend("1")


async def test_the_minutes_calls_spent_since_an_answer_stay_spent() -> None:
    budget = WindowBudget(system="exact", length=0.2)
    reset_at = clock.now().timestamp() + 0.2
    budget.observe("1", remaining=2, reset_at=reset_at)
    await budget.acquire("1")
    await budget.acquire("1")
    budget.observe("1", remaining=1, reset_at=reset_at)  # the first call's answer
    assert budget.waited_seconds == 0

    await asyncio.wait_for(budget.acquire("1"), BOUND)

    assert budget.waited_seconds > 0  # the minute's last call was taken: its reset waited
