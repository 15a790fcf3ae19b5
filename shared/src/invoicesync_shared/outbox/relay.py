"""The outbox relay: publishes committed outbox rows to Kafka, then marks them.

Several replicas may run it at once: each claims a batch with FOR UPDATE SKIP LOCKED,
so no row is claimed twice while a claim is held; a crash between publish and mark
publishes the batch again (at-least-once; consumers dedup by event id).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.bus.producer import EventProducer
from invoicesync_shared.db.models import OutboxMessage
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.metrics import OUTBOX_AGE, OUTBOX_PUBLISHED

log = structlog.get_logger()


class OutboxRelay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        producer: EventProducer,
        *,
        batch_size: int = 200,
        idle_interval: float = 0.1,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._producer = producer
        self._batch_size = batch_size
        self._idle_interval = idle_interval
        self._stopping = asyncio.Event()

    async def relay_batch(self) -> int:
        """Publish one batch of unpublished rows; returns how many were published."""
        async with self._sessionmaker.begin() as session:
            # SKIP LOCKED: replicas take disjoint batches instead of waiting on each other.
            rows = (
                await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.published_at.is_(None))
                    .order_by(OutboxMessage.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                OUTBOX_AGE.set(0)
                return 0
            OUTBOX_AGE.set((datetime.now(UTC) - rows[0].created_at).total_seconds())
            await self._producer.publish_many(
                [(row.topic, Envelope.from_json(row.envelope)) for row in rows]
            )
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([row.id for row in rows]))
                .values(published_at=datetime.now(UTC))
            )
            OUTBOX_PUBLISHED.inc(len(rows))
            return len(rows)

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                published = await self.relay_batch()
            except Exception:
                log.exception("outbox relay batch failed")
                published = 0
                await asyncio.sleep(1.0)
            if published == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._idle_interval)

    def stop(self) -> None:
        self._stopping.set()
