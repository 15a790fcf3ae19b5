"""Retention: bookkeeping rows are deleted once no guarantee needs them any more.

Business data (documents, sync states, booking numbers, run totals) is never touched.
Each table is pruned in small batches, one transaction each, and rows another
transaction holds are skipped (SKIP LOCKED), so the API never waits on a prune. Every
replica ticks; a transaction-level advisory lock lets one of them delete at a time.
Ages are judged by the shared clock (``clock.now()``), except the error brake's rows,
which the brake itself counts on the database clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import prometheus_client
import structlog
from sqlalchemy import TextClause, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared import clock

log = structlog.get_logger()
LOCK_ID = 0x2E7E_4710  # arbitrary, fixed: "the retention job"

PRUNED = prometheus_client.Counter(
    "invoicesync_retention_pruned_total",
    "Bookkeeping rows deleted (or, for connector_ledger.result_event, emptied) by the"
    " retention job, by table",
    ["table"],
)


@dataclass(frozen=True)
class RetentionWindows:
    """How long each kind of bookkeeping row is kept (see ApiSettings for the reasons)."""

    outbox: timedelta
    processed_events: timedelta
    idempotency_keys: timedelta
    webhook_deliveries: timedelta
    sync_run_items: timedelta
    ledger_generations: timedelta
    call_errors: timedelta


# Each statement deletes at most :batch rows and returns (table, count) pairs.
# Published outbox rows only: an unpublished one is still the relay's work.
_OUTBOX = text(
    """
    WITH doomed AS (
        SELECT id FROM outbox_messages
        WHERE published_at IS NOT NULL AND published_at < :cutoff
        ORDER BY published_at LIMIT :batch FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM outbox_messages o USING doomed d WHERE o.id = d.id RETURNING 1
    )
    SELECT 'outbox_messages', count(*) FROM gone
    """
)
_PROCESSED = text(
    """
    WITH doomed AS (
        SELECT consumer, event_id FROM processed_events WHERE processed_at < :cutoff
        ORDER BY processed_at LIMIT :batch FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM processed_events p USING doomed d
        WHERE p.consumer = d.consumer AND p.event_id = d.event_id RETURNING 1
    )
    SELECT 'processed_events', count(*) FROM gone
    """
)
# Answered keys only: a key without a stored response may still be in flight.
_IDEMPOTENCY = text(
    """
    WITH doomed AS (
        SELECT partner_id, key FROM idempotency_keys
        WHERE created_at < :cutoff AND response_status IS NOT NULL
        ORDER BY created_at LIMIT :batch FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM idempotency_keys k USING doomed d
        WHERE k.partner_id = d.partner_id AND k.key = d.key RETURNING 1
    )
    SELECT 'idempotency_keys', count(*) FROM gone
    """
)
# Finished deliveries (delivered, given up, canceled) whose last attempt is old, with
# their attempts; a pending one (also a replay in progress) is kept.
_WEBHOOKS = text(
    """
    WITH doomed AS (
        SELECT id FROM webhook_deliveries
        WHERE status IN ('delivered', 'failed', 'canceled') AND created_at < :cutoff
          AND coalesce(last_attempt_at, created_at) < :cutoff
          AND coalesce(delivered_at, created_at) < :cutoff
        ORDER BY created_at LIMIT :batch FOR UPDATE SKIP LOCKED
    ), attempts AS (
        DELETE FROM webhook_attempts a USING doomed d WHERE a.delivery_id = d.id RETURNING 1
    ), deliveries AS (
        DELETE FROM webhook_deliveries w USING doomed d WHERE w.id = d.id RETURNING 1
    )
    SELECT 'webhook_deliveries', count(*) FROM deliveries
    UNION ALL SELECT 'webhook_attempts', count(*) FROM attempts
    """
)
# Items of runs finished long ago; the run row keeps its totals and errors.
_RUN_ITEMS = text(
    """
    WITH doomed AS (
        SELECT i.sync_run_id, i.document_id, i.integration_id
        FROM sync_runs r JOIN sync_run_items i ON i.sync_run_id = r.id
        WHERE r.status = 'finished' AND r.finished_at < :cutoff
        LIMIT :batch FOR UPDATE OF i SKIP LOCKED
    ), gone AS (
        DELETE FROM sync_run_items i USING doomed d
        WHERE i.sync_run_id = d.sync_run_id AND i.document_id = d.document_id
          AND i.integration_id = d.integration_id
        RETURNING 1
    )
    SELECT 'sync_run_items', count(*) FROM gone
    """
)
# A ledger row of an old generation goes (with its remote status) only when all hold:
# a newer generation of the same document and integration is booked or sent in the
# ledger; the API's sync state is past it too; it is settled (no attempt, no live lease,
# its result published); and it has not changed for the window, which outlasts the
# documents topic, so a redelivered request for that generation is gone from the broker
# before the row that answers it. The current generation is never deleted.
_LEDGER = text(
    """
    WITH doomed AS (
        SELECT o.integration_id, o.document_id, o.generation
        FROM connector_ledger n
        JOIN connector_ledger o
          ON o.integration_id = n.integration_id AND o.document_id = n.document_id
         AND o.generation < n.generation
        JOIN document_syncs s
          ON s.integration_id = o.integration_id AND s.document_id = o.document_id
        WHERE n.generation > 0 AND n.state IN ('booked', 'sent')
          AND s.generation > o.generation
          AND o.state <> 'attempting'
          AND (o.lease_expires_at IS NULL OR o.lease_expires_at < now())
          AND (o.result_event IS NULL OR o.result_published_at IS NOT NULL)
          AND o.updated_at < :cutoff
        LIMIT :batch FOR UPDATE OF o SKIP LOCKED
    ), statuses AS (
        DELETE FROM connector_remote_status r USING doomed d
        WHERE r.integration_id = d.integration_id AND r.document_id = d.document_id
          AND r.generation = d.generation
        RETURNING 1
    ), entries AS (
        DELETE FROM connector_ledger l USING doomed d
        WHERE l.integration_id = d.integration_id AND l.document_id = d.document_id
          AND l.generation = d.generation
        RETURNING 1
    )
    SELECT 'connector_ledger', count(*) FROM entries
    UNION ALL SELECT 'connector_remote_status', count(*) FROM statuses
    """
)
# A ledger entry's result event, once published and unchanged for the ledger window (which
# outlasts every redelivery of the request it answers), is dropped: the entry keeps the
# booking, and a later request for it is answered with the same event id, rebuilt from
# the entry's columns. About two thirds of a booked entry's bytes.
_LEDGER_RESULTS = text(
    """
    WITH doomed AS (
        SELECT integration_id, document_id, generation FROM connector_ledger
        WHERE result_event IS NOT NULL AND result_published_at IS NOT NULL
          AND result_published_at < :cutoff AND updated_at < :cutoff
        ORDER BY result_published_at LIMIT :batch FOR UPDATE SKIP LOCKED
    ), dropped AS (
        UPDATE connector_ledger l SET result_event = NULL FROM doomed d
        WHERE l.integration_id = d.integration_id AND l.document_id = d.document_id
          AND l.generation = d.generation
        RETURNING 1
    )
    SELECT 'connector_ledger.result_event', count(*) FROM dropped
    """
)
# The brake prunes a key's rows when that key is called again; keys never called again
# (an endpoint or division no longer used) are cleared here, on the database clock.
_CALL_ERRORS = text(
    """
    WITH doomed AS (
        SELECT id FROM connector_call_errors WHERE at < now() - make_interval(secs => :keep)
        LIMIT :batch FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM connector_call_errors c USING doomed d WHERE c.id = d.id RETURNING 1
    )
    SELECT 'connector_call_errors', count(*) FROM gone
    """
)


class RetentionJob:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        windows: RetentionWindows,
        *,
        batch_size: int = 1000,
        interval: float = 300.0,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._windows = windows
        self._batch_size = batch_size
        self._interval = interval
        self._stopping = asyncio.Event()
        self.batches: Counter[str] = Counter()  # batches run, by the table they prune

    def _plan(self, now: datetime) -> list[tuple[TextClause, dict[str, object]]]:
        w = self._windows
        return [
            (_OUTBOX, {"cutoff": now - w.outbox}),
            (_PROCESSED, {"cutoff": now - w.processed_events}),
            (_IDEMPOTENCY, {"cutoff": now - w.idempotency_keys}),
            (_WEBHOOKS, {"cutoff": now - w.webhook_deliveries}),
            (_RUN_ITEMS, {"cutoff": now - w.sync_run_items}),
            (_LEDGER, {"cutoff": now - w.ledger_generations}),
            (_LEDGER_RESULTS, {"cutoff": now - w.ledger_generations}),
            (_CALL_ERRORS, {"keep": w.call_errors.total_seconds()}),
        ]

    async def run_once(self, now: datetime | None = None) -> dict[str, int]:
        """Prune every table until nothing is due; returns the rows deleted per table
        (empty when another replica holds the lock)."""
        now = now or clock.now()
        pruned: dict[str, int] = {}
        for statement, params in self._plan(now):
            while not self._stopping.is_set():
                counts = await self._batch(statement, params)
                if counts is None:  # another replica is pruning
                    return pruned
                for table, count in counts.items():
                    pruned[table] = pruned.get(table, 0) + count
                    if count:
                        PRUNED.labels(table=table).inc(count)
                if max(counts.values()) < self._batch_size:
                    break
        if any(pruned.values()):
            log.info("retention pruned bookkeeping rows", **pruned)
        return pruned

    async def _batch(
        self, statement: TextClause, params: dict[str, object]
    ) -> dict[str, int] | None:
        async with self._sessionmaker.begin() as session:
            if not await session.scalar(select(func.pg_try_advisory_xact_lock(LOCK_ID))):
                return None
            rows = await session.execute(statement, {**params, "batch": self._batch_size})
            counts = {str(table): int(count) for table, count in rows}
            self.batches[next(iter(counts))] += 1
            return counts

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("retention pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)

    def stop(self) -> None:
        self._stopping.set()
