"""The outbox relay: publishes committed outbox rows to Kafka in order per key, then marks
them.

Order. A row's id is taken at insert but becomes visible at commit, so a relay reading in
id order can publish a later row before an earlier one that commits late. Each row carries
instead its writing transaction's id (``write_xid``, a column default: no extra round trip
on the accept path), and the relay publishes in ``(write_xid, id)`` order only the rows
below the horizon ``pg_snapshot_xmin(pg_current_snapshot())``: every transaction older than
that has ended, so no row can still appear before the ones published. The order is that
of the writing transactions, by when each first wrote (its rows by id): a transaction that
follows another (it saw its commit) always has the larger xid, and each write of the API
(accept, edit, retry) is one transaction, so one client's events leave in the order they
were written, a writer that took its id first and commits last included. Chosen over a
per-client counter taken under a lock, which would serialise one client's writers until
they commit (the sweeper writes for hundreds of clients in one transaction). The price:
publication waits for the oldest transaction running on the server (a long one delays the
outbox; ``invoicesync_outbox_oldest_age_seconds`` shows it).

Replicas. Every API replica runs a relay. A relay claims keys (clients) with a session
advisory lock, held on its own connection while it publishes but with no transaction open,
re-reads the oldest unpublished rows of the keys it holds, commits, publishes them with one
producer (Kafka keeps one producer's order per partition), and marks them published before
it lets the keys go. Two relays therefore never publish one key at once; a relay that dies
releases its keys with its connection, and the next one publishes from the oldest row not
marked: at-least-once, each key's events in order (consumers dedup by event id).

Waking. An idle relay waits for the commit signal (signal.py: LISTEN/NOTIFY) and polls at
``idle_interval`` all the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import (
    BigInteger,
    Select,
    String,
    bindparam,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from invoicesync_shared.bus.producer import EventProducer
from invoicesync_shared.db.models import OutboxMessage
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.metrics import OUTBOX_AGE, OUTBOX_PUBLISHED
from invoicesync_shared.outbox.signal import CommitSignal

log = structlog.get_logger()

# First half of the two-part advisory lock key: "outbox relay, per key" (0x6f757462 "outb").
LOCK_SPACE = 0x6F757462

# Every transaction with a smaller id has ended: no row below it can still appear.
HORIZON = literal_column("pg_snapshot_xmin(pg_current_snapshot())::text::bigint", BigInteger)

_UNPUBLISHED = (OutboxMessage.published_at.is_(None), OutboxMessage.write_xid < HORIZON)
_ORDER = (OutboxMessage.write_xid, OutboxMessage.id)


def _waiting_keys(limit: int) -> Select[str]:
    oldest = select(OutboxMessage.key).where(*_UNPUBLISHED).order_by(*_ORDER).limit(limit)
    return select(oldest.subquery().c.key).distinct()


def _claim_keys() -> Select[str]:
    candidate = (
        func.unnest(bindparam("keys", type_=ARRAY(String)))
        .table_valued("key")
        .render_derived(name="candidate")
    )
    lock = func.pg_try_advisory_lock(LOCK_SPACE, func.hashtext(candidate.c.key))
    return select(candidate.c.key).where(lock)


def _oldest_rows(limit: int) -> Select[Any]:
    return (
        select(
            OutboxMessage.id, OutboxMessage.topic, OutboxMessage.envelope, OutboxMessage.created_at
        )
        .where(
            *_UNPUBLISHED,
            OutboxMessage.key == func.any(bindparam("claimed", type_=ARRAY(String))),
        )
        .order_by(*_ORDER)
        .limit(limit)
    )


CLAIM = _claim_keys()
MARK = (
    update(OutboxMessage)
    .where(OutboxMessage.id == func.any(bindparam("ids", type_=ARRAY(BigInteger))))
    .values(published_at=func.now())
)
RELEASE = select(func.pg_advisory_unlock_all())
OLDEST_WAITING = (
    select(OutboxMessage.created_at)
    .where(OutboxMessage.published_at.is_(None))
    .order_by(*_ORDER)
    .limit(1)
)


class OutboxRelay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        producer: EventProducer,
        *,
        batch_size: int = 200,
        idle_interval: float = 0.1,
    ) -> None:
        bind = sessionmaker.kw["bind"]
        assert isinstance(bind, AsyncEngine), "the relay needs its own connections"
        self._engine = bind
        self._producer = producer
        self._batch_size = batch_size
        self._idle_interval = idle_interval
        self._stopping = asyncio.Event()
        self._signal = CommitSignal(bind)
        self._waiting = _waiting_keys(batch_size)
        self._oldest = _oldest_rows(batch_size)

    async def relay_batch(self) -> int:
        """Publish the oldest unpublished rows of the keys this relay can claim; returns how
        many were published."""
        async with self._engine.connect() as connection:
            keys = (await connection.scalars(self._waiting)).all()
            if not keys:
                await self._show_age(connection)
                return 0
            try:
                rows = await self._claim(connection, keys)
                if not rows:
                    return 0
                OUTBOX_AGE.set((datetime.now(UTC) - rows[0].created_at).total_seconds())
                await self._producer.publish_many(
                    [(row.topic, Envelope.from_json(row.envelope)) for row in rows]
                )
                await connection.execute(MARK, {"ids": [row.id for row in rows]})
                await connection.commit()
                OUTBOX_PUBLISHED.inc(len(rows))
                return len(rows)
            finally:
                await self._release(connection)

    async def _claim(self, connection: AsyncConnection, keys: Sequence[str]) -> Sequence[Any]:
        """The rows to publish of those of ``keys`` this relay can hold, read once held;
        commits, so no transaction stays open while they are sent."""
        claimed = (await connection.scalars(CLAIM, {"keys": list(keys)})).all()
        # Read again now that the keys are held: another relay may just have marked some.
        rows = (
            (await connection.execute(self._oldest, {"claimed": list(claimed)})).all()
            if claimed
            else []
        )
        await connection.commit()
        return rows

    @staticmethod
    async def _show_age(connection: AsyncConnection) -> None:
        """Nothing to publish: the age of what still waits (behind a transaction running
        long on the server), or 0."""
        oldest = await connection.scalar(OLDEST_WAITING)
        await connection.commit()
        OUTBOX_AGE.set((datetime.now(UTC) - oldest).total_seconds() if oldest else 0)

    @staticmethod
    async def _release(connection: AsyncConnection) -> None:
        """Let the keys go before the connection returns to the pool (session locks would
        outlive it there); a connection that cannot say so is dropped, which frees them."""
        try:
            await connection.rollback()  # a failed statement leaves its transaction aborted
            await connection.execute(RELEASE)
            await connection.commit()
        except Exception:
            log.warning("outbox relay could not release its keys; dropping the connection")
            await connection.invalidate()

    async def run(self) -> None:
        """Publish while there is work; when idle, wait for a commit that wrote outbox rows
        (the commit signal) or, at the latest, ``idle_interval``."""
        listening = asyncio.create_task(self._signal.run())
        try:
            while not self._stopping.is_set():
                try:
                    published = await self.relay_batch()
                except Exception:
                    log.exception("outbox relay batch failed")
                    published = 0
                    await asyncio.sleep(1.0)
                if published == 0:
                    await self._signal.wait(self._idle_interval)
        finally:
            self._signal.stop()
            await listening

    def stop(self) -> None:
        self._stopping.set()
        self._signal.stop()
