"""Rows stored against an order, and plans that read them as stored: how a test sees
whether a statement's ORDER BY (or its lock order) is there, without racing. A row
rewritten by an update that changes no indexed column keeps its index entries pointing at
its old slot (a HOT update), so a bitmap scan still reaches it there: where that matters,
turn bitmap scans off too and let a sequential scan read the rows as stored."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Select, literal_column
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

# Plans of other sizes: no plain index scan (its key order could match the one wanted by
# chance), no merge join (it sorts by the join key, the document); planned for this call,
# as a connection's cached generic plan of the statement was made without these settings.
OTHER_PLANS = (
    "SET LOCAL enable_indexscan = off",
    "SET LOCAL enable_mergejoin = off",
    "SET LOCAL plan_cache_mode = force_custom_plan",
)
TOUCHES = 20  # updates that move a row behind the others; one is enough in practice


async def stored_in_order(
    sessionmaker: async_sessionmaker[AsyncSession],
    rows: Sequence[Select[Any]],
    touch: Callable[[int], Any],
) -> None:
    """Rewrite rows (``touch(i)``: an update of the i-th that changes nothing, stored
    anew behind) until the rows ``rows`` select are stored in that order, so a scan
    reads them so."""
    for _ in range(TOUCHES):
        async with sessionmaker() as session:
            places = [
                (await session.execute(r.add_columns(literal_column("ctid")))).one()[-1]
                for r in rows
            ]
        ahead = next((i for i in range(1, len(places)) if places[i] < places[i - 1]), None)
        if ahead is None:
            return
        async with sessionmaker.begin() as session:  # the one stored too early, moved back
            await session.execute(touch(ahead))
    raise AssertionError(f"rows still not stored in order after {TOUCHES} updates")
