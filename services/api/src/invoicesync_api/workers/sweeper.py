"""Re-asks for documents that stay pending too long, or whose outcome stays unknown.

The embedded broker keeps topics in memory only, and any broker can lose a message
before a consumer commits it; the connectors' ledgers make a repeated request harmless,
so re-publishing what stays pending is how nothing gets lost.

A document is only asked again while its integration shows no progress (no connector
answered a request of it within ``pending_after``; read-backs of payments do not count):
one merely queued behind a backlog would otherwise be asked again and again, and every
copy lengthens the very queue it waits in. An ``ambiguous`` document (an answer lost, no
lookup got through) is asked again the same way: its connector looks it up before sending
anything, so the uncertainty ends without anyone pressing retry. One whose lookup found
entries that may be it (``ambiguous_match``) is left alone: asking again finds them again,
and only a bookkeeper who checked them can settle it (then retries).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import DateTime, Float, String, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from invoicesync_api.db.models import Client, Document, DocumentSync
from invoicesync_api.documents.fanout import request_sync
from invoicesync_shared.db.models import Integration, OutboxMessage

log = structlog.get_logger()
MAX_DOUBLINGS = 6  # the wait grows to 64 times pending_after at most
SWEPT = ("pending", "ambiguous")
WAITS_FOR_A_PERSON = "ambiguous_match"  # error_code of an ambiguous state never swept


class PendingSweeper:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        pending_after: timedelta,
        interval: float = 15.0,
        batch_size: int = 500,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._pending_after = pending_after
        self._interval = interval
        self._batch_size = batch_size
        self._stopping = asyncio.Event()
        self.republished = 0

    async def sweep_once(self, now: datetime | None = None) -> int:
        """Re-request every document pending (or ambiguous) longer than its wait; returns
        how many.

        The wait doubles with each re-request of the same document: one merely queued
        behind a rate limit is asked again rarely, so the partitions are not flooded."""
        now = now or datetime.now(UTC)
        async with self._sessionmaker.begin() as session:
            stale = await self._claim(session, now)
            by_document: defaultdict[Document, list[Integration]] = defaultdict(list)
            sweeps: dict[tuple[Document, Integration], int] = {}
            for state, document, integration in stale:
                by_document[document].append(integration)
                sweeps[(document, integration)] = state.sweeps + 1
            for document, integrations in by_document.items():
                client = await session.get(Client, document.client_id)
                assert client is not None
                asked = await request_sync(session, document, client, integrations)
                for state, integration in asked:
                    state.sweeps = sweeps[(document, integration)]
                    state.updated_at = datetime.now(UTC)
        if by_document:
            log.warning("re-requested pending or ambiguous documents", documents=len(by_document))
        self.republished += len(by_document)
        return len(by_document)

    async def _claim(
        self, session: AsyncSession, now: datetime
    ) -> list[tuple[DocumentSync, Document, Integration]]:
        doublings = func.power(2, func.least(DocumentSync.sweeps, MAX_DOUBLINGS))
        seconds = literal(self._pending_after.total_seconds(), Float()) * doublings
        wait = func.make_interval(0, 0, 0, 0, 0, 0, seconds)
        # An unpublished outbox row means the request has not even left: the relay owns it.
        # NOT IN over the few unpublished subjects is one hashed set built once per sweep;
        # a correlated NOT EXISTS walked the outbox's partial index (and its dead entries
        # after a burst) once per pending row: seconds of CPU at 10,000 pending.
        subject = OutboxMessage.envelope["subject"].astext
        waiting = select(subject).where(OutboxMessage.published_at.is_(None), subject.is_not(None))
        # Integrations whose connector answered lately are working through their queue.
        answered = aliased(DocumentSync)
        progressing = select(answered.integration_id).where(
            answered.answered_at >= literal(now, DateTime(timezone=True)) - self._pending_after,
        )
        rows = await session.execute(
            select(DocumentSync, Document, Integration)
            .join(Document, Document.id == DocumentSync.document_id)
            .join(Integration, Integration.id == DocumentSync.integration_id)
            .where(
                DocumentSync.status.in_(SWEPT),
                DocumentSync.error_code.is_distinct_from(WAITS_FOR_A_PERSON),
                DocumentSync.updated_at < literal(now, DateTime(timezone=True)) - wait,
                Integration.status == "active",
                cast(DocumentSync.document_id, String).not_in(waiting),
                DocumentSync.integration_id.not_in(progressing),
            )
            .limit(self._batch_size)
            # SKIP LOCKED: API replicas sweep disjoint rows instead of re-requesting twice.
            .with_for_update(of=DocumentSync, skip_locked=True)
        )
        return [(s, d, i) for s, d, i in rows]

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.sweep_once()
            except Exception:
                log.exception("sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)

    def stop(self) -> None:
        self._stopping.set()
