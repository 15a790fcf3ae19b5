"""A request rate shared by every replica: each call reserves the next free slot of its
scope in PostgreSQL (one atomic upsert) and waits for it, so N processes together stay
inside a fixed budget such as Lexware's 2 requests/second per organisation."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Protocol, cast

from sqlalchemy import DateTime, Interval, String, Table, func, literal, literal_column
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from invoicesync_shared.bus.slots import without_slot
from invoicesync_shared.db.base import Model
from invoicesync_shared.db.engine import standalone


class Pacer(Protocol):
    """Waits until one more call to ``scope`` fits the budget (``TokenBucket`` is one)."""

    async def acquire(self, scope: str) -> None: ...


class RateSlot(Model):
    """The earliest moment the next call to one remote scope may start."""

    __tablename__ = "connector_rate_slots"

    system: Mapped[str] = mapped_column(String(16), primary_key=True)
    scope: Mapped[str] = mapped_column(String(128), primary_key=True)
    next_slot: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PostgresPacer:
    """At most ``rate`` calls per second per scope, across all processes that share the
    database. Slots are handed out in order; a caller sleeps until its own slot."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, system: str, rate: float
    ) -> None:
        # One statement, atomic by itself: AUTOCOMMIT, one round trip per call instead of
        # three (BEGIN, the upsert, COMMIT).
        self._standalone = standalone(sessionmaker)
        self._system = system
        self._interval = literal(timedelta(seconds=1.0 / rate), Interval())
        self.waited_seconds = 0.0

    async def acquire(self, scope: str) -> None:
        _, delay = await self.reserve(scope)
        if delay > 0:
            self.waited_seconds += delay
            async with without_slot():  # the consumer's slot goes to another tenant
                await asyncio.sleep(delay)

    async def reserve(self, scope: str) -> tuple[float, float]:
        """Reserve the next slot: (its start as epoch seconds, seconds until then).

        The upsert holds the row lock for one statement, so concurrent reservations of a
        scope are serialised by PostgreSQL itself, on PostgreSQL's clock."""
        now = func.clock_timestamp(type_=DateTime(timezone=True))
        table = cast(Table, RateSlot.__table__)  # Core: no ORM DML bookkeeping per call
        slot_start: ColumnElement[datetime] = (
            literal_column("connector_rate_slots.next_slot") - self._interval
        )
        statement = (
            insert(table)
            .values(system=self._system, scope=scope, next_slot=now + self._interval)
            .on_conflict_do_update(
                index_elements=["system", "scope"],
                set_={"next_slot": func.greatest(table.c.next_slot, now) + self._interval},
            )
            .returning(func.extract("epoch", slot_start), func.extract("epoch", slot_start - now))
        )
        async with self._standalone() as session:
            start, delay = (await session.execute(statement)).one()
        return float(start), max(float(delay), 0.0)
