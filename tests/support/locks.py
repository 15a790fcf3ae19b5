"""Waiting, without sleeping out a race, until a call in flight waits for a row lock."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


async def until_it_waits_on_a_lock(
    sessionmaker: async_sessionmaker[AsyncSession],
    request: asyncio.Task[Any],
    statement_like: str,
    bound: float = 20.0,
) -> None:
    """Return once ``request`` (a call in flight) waits for a row lock in a statement
    matching ``statement_like`` (SQL LIKE), or is through without waiting."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND query LIKE :statement"
    )
    async with asyncio.timeout(bound):
        while not request.done():
            async with sessionmaker() as watcher:  # a new snapshot of the activity
                if await watcher.scalar(waiting, {"statement": statement_like}):
                    return
            await asyncio.sleep(0.01)  # polling a condition, not waiting out a race
