"""PostgreSQL pacing: two pacers (two replicas) on one scope share a single budget.

Asserted on the slots PostgreSQL hands out, not on wall-clock timing."""

from __future__ import annotations

import asyncio
import itertools
import uuid

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.pacing import PostgresPacer
from tests.support.round_trips import counting


async def test_two_replicas_get_slots_one_interval_apart(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    replicas = [PostgresPacer(sessionmaker, system="test", rate=10.0) for _ in range(2)]
    scope = str(uuid.uuid4())
    slots = await asyncio.gather(*(replicas[i % 2].reserve(scope) for i in range(10)))
    starts = sorted(start for start, _ in slots)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    # 10/s: every slot 0.1 s after the one before, whichever replica reserved it.
    assert all(gap >= 0.1 - 1e-6 for gap in gaps), gaps
    assert sum(1 for _, delay in slots if delay == 0) <= 1


async def test_scopes_do_not_wait_for_each_other(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    pacer = PostgresPacer(sessionmaker, system="test", rate=1.0)
    slots = await asyncio.gather(*(pacer.reserve(str(uuid.uuid4())) for _ in range(5)))
    assert [delay for _, delay in slots] == [0.0] * 5


async def test_a_reservation_is_one_round_trip(
    sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    """One upsert standing alone (atomic by itself): no BEGIN and COMMIT around it, once
    per request to the system."""
    pacer = PostgresPacer(sessionmaker, system="test", rate=5.0)
    scope = str(uuid.uuid4())
    with counting(engine) as trips:
        first = await pacer.reserve(scope)
        second = await pacer.reserve(scope)
    assert trips.total == 2, trips.statements
    assert second[0] - first[0] >= 0.2 - 1e-6  # still one interval apart
