"""Counting what a piece of code sends to PostgreSQL: every statement, and every BEGIN,
COMMIT and ROLLBACK (each its own round trip), so a cost per event can be pinned in a
test without timing anything."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass
class RoundTrips:
    statements: list[str] = field(default_factory=list)
    transactions: int = 0  # BEGIN, with its COMMIT or ROLLBACK: two round trips each

    @property
    def total(self) -> int:
        return len(self.statements) + 2 * self.transactions


@contextlib.contextmanager
def counting(engine: AsyncEngine) -> Iterator[RoundTrips]:
    """The round trips sent on ``engine`` (and the engines derived from it) meanwhile."""
    seen = RoundTrips()

    def statement(_conn: Any, _cursor: Any, text: str, *_: Any) -> None:
        seen.statements.append(text)

    def begin(conn: Any) -> None:
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            seen.transactions += 1  # an AUTOCOMMIT connection sends no BEGIN

    target = engine.sync_engine
    event.listen(target, "before_cursor_execute", statement)
    event.listen(target, "begin", begin)
    try:
        yield seen
    finally:
        event.remove(target, "before_cursor_execute", statement)
        event.remove(target, "begin", begin)
