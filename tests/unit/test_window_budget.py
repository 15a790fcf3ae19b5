"""A spent minute window is waited out on the system's clock, and never for longer than
the window: a reset further away is a clock disagreement, not a longer window."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from invoicesync_shared import clock
from invoicesync_shared.connectors.rate_limit import WindowBudget

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
