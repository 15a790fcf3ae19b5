"""Re-asks for documents whose request was lost, or whose outcome stays unknown.

The embedded broker keeps topics in memory only, and any broker can lose a message
before a consumer commits it; the connectors' ledgers make a repeated request harmless,
so re-publishing what stays pending is how nothing gets lost.

Each document is judged on its own, once its wait has passed (``pending_after`` since its
request, doubling with each re-ask). A pending document is asked again when:

- overtaken: its integration's connector answered a request issued *after* it. One
  client's requests travel in one partition and a connector takes a partition batch by
  batch, so a later one answered means this one was consumed already; if it is still in
  work (a rate-limit wait in the same batch), the copy is harmless (the ledger) and, with
  the doubling wait, asked at most once per wait, never in a loop;
- idle: the connector answered nothing for the integration within ``pending_after``;
- overdue: it has waited ``overdue_after`` (doubling too) in any case.

A document merely queued behind a backlog is none of these while the connector works
through older requests: asking again would only lengthen the very queue it waits in.
An ``ambiguous`` document (an answer lost, no lookup got through) is asked again once its
wait has passed: its connector looks it up before sending anything, so the uncertainty
ends without anyone pressing retry. One that is ambiguous because several remote entries
could be ours (``ambiguous_match``) waits for a person.

A document its connector deferred (a spent budget: ``waiting_until``) is none of these
before its wait is over, by the shared clock (the budget's reset is the accounting
system's time, which a test's sandbox clock moves); once it is over it is asked again at
once, and the request ends the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import prometheus_client
import structlog
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Float,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from invoicesync_api.db.models import Client, Document, DocumentSync
from invoicesync_api.documents.fanout import request_sync
from invoicesync_shared import clock
from invoicesync_shared.db.models import Integration, OutboxMessage
from invoicesync_shared.states import FailureCode, IntegrationStatus, SyncStatus

log = structlog.get_logger()
MAX_DOUBLINGS = 6  # the wait grows to 64 times pending_after at most
SWEPT = (SyncStatus.PENDING, SyncStatus.AMBIGUOUS)
WAITING = (SyncStatus.PENDING, SyncStatus.SENDING)  # a request is out and not answered yet
# An answer to a later request must be this old (at most; a tenth of the wait when that
# is shorter) before it proves an earlier one lost: results may be applied a moment apart.
OVERTAKEN_GRACE = timedelta(minutes=1)

REASKED = prometheus_client.Counter(
    "invoicesync_sweeper_reasked_total",
    "Documents (per integration) the sweeper asked a connector for again, by why",
    ["reason"],
)
OLDEST_PENDING = prometheus_client.Gauge(
    "invoicesync_sweeper_oldest_pending_age_seconds",
    "Age of the oldest request still waiting for its connector's answer, before re-asks",
)


class PendingSweeper:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        pending_after: timedelta,
        overdue_after: timedelta | None = None,
        interval: float = 15.0,
        batch_size: int = 500,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._pending_after = pending_after
        self._overdue_after = overdue_after or pending_after * 6
        self._grace = min(OVERTAKEN_GRACE, pending_after / 10)
        self._interval = interval
        self._batch_size = batch_size
        self._stopping = asyncio.Event()
        self.republished = 0

    async def sweep_once(self, now: datetime | None = None) -> int:
        """Re-request every document judged lost (or still ambiguous); returns how many."""
        # Ages of requests and answers, stamped on the database's clock: the host's time, not
        # the shared clock (moved a day ahead, it would judge every request lost).
        now = now or datetime.now(UTC)
        async with self._sessionmaker.begin() as session:
            await self._measure(session, now)  # before asking again restarts the clocks
            stale = await self._claim(session, now)
            by_document: defaultdict[Document, list[Integration]] = defaultdict(list)
            sweeps: dict[tuple[Document, Integration], int] = {}
            for state, document, integration, _ in stale:
                by_document[document].append(integration)
                sweeps[(document, integration)] = state.sweeps + 1
            for document, integrations in by_document.items():
                client = await session.get(Client, document.client_id)
                assert client is not None
                asked = await request_sync(session, document, client, integrations)
                for state, integration in asked:
                    state.sweeps = sweeps[(document, integration)]
        for reason, count in Counter(r for *_, r in stale).items():  # once committed
            REASKED.labels(reason=reason).inc(count)
        if by_document:
            log.warning("re-requested lost or ambiguous documents", documents=len(by_document))
        self.republished += len(by_document)
        return len(by_document)

    async def _measure(self, session: AsyncSession, now: datetime) -> None:
        oldest = await session.scalar(
            select(func.min(DocumentSync.requested_at))
            .join(Integration, Integration.id == DocumentSync.integration_id)
            .where(
                DocumentSync.status.in_(WAITING),
                Integration.status == IntegrationStatus.ACTIVE,
                DocumentSync.waiting_until.is_(None),  # held back on purpose, not lost
            )
        )
        OLDEST_PENDING.set(max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)

    async def _claim(
        self, session: AsyncSession, now: datetime
    ) -> list[tuple[DocumentSync, Document, Integration, str]]:
        at = literal(now, DateTime(timezone=True))
        today = literal(clock.now(), DateTime(timezone=True))
        doublings = func.power(2, func.least(DocumentSync.sweeps, MAX_DOUBLINGS))

        def waited(base: timedelta) -> ColumnElement[Any]:
            seconds = literal(base.total_seconds(), Float()) * doublings
            return at - func.make_interval(0, 0, 0, 0, 0, 0, seconds)

        # An unpublished outbox row means the request has not even left: the relay owns it.
        # NOT IN over the few unpublished subjects is one hashed set built once per sweep;
        # a correlated NOT EXISTS walked the outbox's partial index (and its dead entries
        # after a burst) once per pending row: seconds of CPU at 10,000 pending.
        subject = OutboxMessage.envelope["subject"].astext
        waiting = select(subject).where(OutboxMessage.published_at.is_(None), subject.is_not(None))
        # Per integration, from its recent answers (one aggregate per sweep): whether its
        # connector answered at all lately, and the latest request it has answered.
        answered = aliased(DocumentSync)
        recent = (
            select(
                answered.integration_id,
                func.max(answered.requested_at)
                .filter(
                    answered.answered_at >= answered.requested_at,
                    answered.answered_at < at - self._grace,
                )
                .label("frontier"),
            )
            .where(answered.answered_at >= at - self._pending_after)
            .group_by(answered.integration_id)
            .subquery("recent")
        )
        requested = func.coalesce(DocumentSync.requested_at, DocumentSync.updated_at)
        ambiguous = DocumentSync.status == SyncStatus.AMBIGUOUS
        idle = recent.c.integration_id.is_(None)
        overtaken = requested < recent.c.frontier
        overdue = requested < waited(self._overdue_after)
        deferred = DocumentSync.waiting_until.is_not(None)
        reason = case(
            (deferred, "wait_over"),
            (ambiguous, "ambiguous"),
            (idle, "idle"),
            (overtaken, "overtaken"),
            else_="overdue",
        )
        rows = await session.execute(
            select(DocumentSync, Document, Integration, reason)
            .join(Document, Document.id == DocumentSync.document_id)
            .join(Integration, Integration.id == DocumentSync.integration_id)
            .outerjoin(recent, recent.c.integration_id == DocumentSync.integration_id)
            .where(
                DocumentSync.status.in_(SWEPT),
                # Several remote entries could be ours: a person decides, never asked again.
                DocumentSync.error_code.is_distinct_from(FailureCode.AMBIGUOUS_MATCH),
                Integration.status == IntegrationStatus.ACTIVE,
                cast(DocumentSync.document_id, String).not_in(waiting),
                or_(
                    and_(deferred, DocumentSync.waiting_until <= today),
                    and_(
                        ~deferred, ambiguous, DocumentSync.updated_at < waited(self._pending_after)
                    ),
                    and_(
                        ~deferred,
                        ~ambiguous,
                        requested < waited(self._pending_after),
                        or_(idle, overtaken, overdue),
                    ),
                ),
            )
            .limit(self._batch_size)
            # SKIP LOCKED: API replicas sweep disjoint rows instead of re-requesting twice.
            .with_for_update(of=DocumentSync, skip_locked=True)
        )
        return [(s, d, i, r) for s, d, i, r in rows]

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
