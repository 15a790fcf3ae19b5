"""Retention: old bookkeeping rows are pruned, in batches; young, unfinished and current
ones are kept, and business data is never touched. Rows are written directly."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import (
    Client,
    Document,
    DocumentSync,
    IdempotencyKey,
    Partner,
    SyncRun,
    SyncRunItem,
)
from invoicesync_api.settings import ApiSettings
from invoicesync_api.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from invoicesync_api.workers.retention import RetentionJob
from invoicesync_shared.connectors.remote_status import RemoteStatus
from invoicesync_shared.db.models import (
    ConnectorCallError,
    Integration,
    LedgerEntry,
    OutboxMessage,
    ProcessedEvent,
)

NOW = datetime.now(UTC)
DAY = timedelta(days=1)
WINDOWS = ApiSettings().retention_windows()  # the defaults


@dataclass
class World:
    partner_id: uuid.UUID
    client_id: uuid.UUID
    integration_id: uuid.UUID


def job(sessionmaker: async_sessionmaker[AsyncSession], batch_size: int = 1000) -> RetentionJob:
    return RetentionJob(sessionmaker, WINDOWS, batch_size=batch_size)


async def add(sessionmaker: async_sessionmaker[AsyncSession], *rows: Any) -> None:
    async with sessionmaker.begin() as session:
        for row in rows:
            session.add(row)
            await session.flush()


async def exists(sessionmaker: async_sessionmaker[AsyncSession], model: Any, key: Any) -> bool:
    async with sessionmaker() as session:
        return await session.get(model, key) is not None


@pytest.fixture
async def world(sessionmaker: async_sessionmaker[AsyncSession]) -> World:
    partner, client, integration = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await add(
        sessionmaker,
        Partner(id=partner, name="Retention BV"),
        Client(id=client, partner_id=partner, name="Client BV"),
        Integration(
            id=integration,
            partner_id=partner,
            client_id=client,
            system="lexware",
            status="active",
            settings={},
        ),
    )
    return World(partner, client, integration)


async def document(
    sessionmaker: async_sessionmaker[AsyncSession], world: World, generation: int = 0
) -> uuid.UUID:
    """A booked invoice with its sync state at ``generation``: business data."""
    document_id = uuid.uuid4()
    await add(
        sessionmaker,
        Document(
            id=document_id,
            partner_id=world.partner_id,
            client_id=world.client_id,
            kind="invoice",
            external_id=str(document_id),
            number=f"R-{document_id.hex[:8]}",
            status="booked",
            issue_date=date(2026, 1, 1),
            currency="EUR",
            customer={"name": "Customer"},
            lines=[],
            net_total=Decimal("1.00"),
            vat_total=Decimal("0.00"),
            gross_total=Decimal("1.00"),
            created_at=NOW - 400 * DAY,
        ),
        DocumentSync(
            document_id=document_id,
            integration_id=world.integration_id,
            status="booked",
            generation=generation,
            booking_number="B-1",
            updated_at=NOW - 400 * DAY,
        ),
    )
    return document_id


async def test_published_outbox_rows_go_after_the_window_and_unpublished_ones_stay(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    def row(created: datetime, published: datetime | None) -> OutboxMessage:
        return OutboxMessage(
            event_id=uuid.uuid4(),
            topic="t",
            key="k",
            event_type="e",
            envelope={"snapshot": "x" * 100},
            created_at=created,
            published_at=published,
        )

    old = row(NOW - 10 * DAY, NOW - 10 * DAY)
    young = row(NOW - DAY, NOW - DAY)
    unpublished = row(NOW - 30 * DAY, None)
    await add(sessionmaker, old, young, unpublished)

    pruned = await job(sessionmaker).run_once(NOW)

    assert pruned["outbox_messages"] >= 1
    assert not await exists(sessionmaker, OutboxMessage, old.id)
    assert await exists(sessionmaker, OutboxMessage, young.id)
    assert await exists(sessionmaker, OutboxMessage, unpublished.id)


async def test_processed_events_outlive_the_results_topic(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # The results topic keeps records 7 days: a dedup row must still be there then.
    old = ProcessedEvent(consumer="api-results", event_id=uuid.uuid4(), processed_at=NOW - 9 * DAY)
    redeliverable = ProcessedEvent(
        consumer="api-results", event_id=uuid.uuid4(), processed_at=NOW - 7 * DAY
    )
    await add(sessionmaker, old, redeliverable)

    await job(sessionmaker).run_once(NOW)

    assert not await exists(sessionmaker, ProcessedEvent, (old.consumer, old.event_id))
    assert await exists(
        sessionmaker, ProcessedEvent, (redeliverable.consumer, redeliverable.event_id)
    )


async def test_answered_idempotency_keys_go_after_a_day_and_more_in_flight_ones_stay(
    sessionmaker: async_sessionmaker[AsyncSession], world: World
) -> None:
    def key(name: str, age: timedelta, answered: bool) -> IdempotencyKey:
        return IdempotencyKey(
            partner_id=world.partner_id,
            key=name,
            request_hash="h",
            response_status=201 if answered else None,
            response_body={"id": "x"} if answered else None,
            created_at=NOW - age,
        )

    old = key("old", 3 * DAY, True)
    day_old = key("day-old", DAY + timedelta(hours=1), True)
    in_flight = key("in-flight", 3 * DAY, False)
    await add(sessionmaker, old, day_old, in_flight)

    await job(sessionmaker).run_once(NOW)

    assert not await exists(sessionmaker, IdempotencyKey, (world.partner_id, "old"))
    assert await exists(sessionmaker, IdempotencyKey, (world.partner_id, "day-old"))
    assert await exists(sessionmaker, IdempotencyKey, (world.partner_id, "in-flight"))


async def test_finished_webhook_deliveries_go_with_their_attempts_after_30_days(
    sessionmaker: async_sessionmaker[AsyncSession], world: World
) -> None:
    endpoint = WebhookEndpoint(
        partner_id=world.partner_id, url="https://example.com/h", events=["*"], secret=b"s"
    )
    await add(sessionmaker, endpoint)

    def delivery(status: str, created: timedelta, attempted: timedelta | None) -> WebhookDelivery:
        return WebhookDelivery(
            endpoint_id=endpoint.id,
            event_id=str(uuid.uuid4()),
            event_type="invoice.synced",
            payload={},
            status=status,
            created_at=NOW - created,
            last_attempt_at=None if attempted is None else NOW - attempted,
        )

    delivered = delivery("delivered", 40 * DAY, 40 * DAY)
    given_up = delivery("failed", 40 * DAY, 38 * DAY)
    pending = delivery("pending", 40 * DAY, 38 * DAY)
    replayed = delivery("delivered", 40 * DAY, 2 * DAY)  # a replay two days ago
    young = delivery("delivered", 5 * DAY, 5 * DAY)
    await add(sessionmaker, delivered, given_up, pending, replayed, young)
    attempts = [
        WebhookAttempt(delivery_id=delivered.id, attempted_at=NOW - 40 * DAY, duration_ms=5)
        for _ in range(2)
    ]
    kept_attempt = WebhookAttempt(
        delivery_id=pending.id, attempted_at=NOW - 38 * DAY, duration_ms=5
    )
    await add(sessionmaker, *attempts, kept_attempt)

    pruned = await job(sessionmaker).run_once(NOW)

    assert pruned["webhook_attempts"] >= 2
    assert not await exists(sessionmaker, WebhookDelivery, delivered.id)
    assert not await exists(sessionmaker, WebhookDelivery, given_up.id)
    for attempt in attempts:
        assert not await exists(sessionmaker, WebhookAttempt, attempt.id)
    for kept in (pending, replayed, young):
        assert await exists(sessionmaker, WebhookDelivery, kept.id)
    assert await exists(sessionmaker, WebhookAttempt, kept_attempt.id)
    assert await exists(sessionmaker, WebhookEndpoint, endpoint.id)


async def test_items_of_runs_finished_long_ago_go_and_the_run_keeps_its_totals(
    sessionmaker: async_sessionmaker[AsyncSession], world: World
) -> None:
    document_id = await document(sessionmaker, world)

    def run(status: str, finished: timedelta | None) -> SyncRun:
        return SyncRun(
            partner_id=world.partner_id,
            client_id=world.client_id,
            integration_ids=[world.integration_id],
            trigger="nightly",
            status=status,
            documents_total=1,
            documents_synced=1,
            errors=[],
            started_at=NOW - 60 * DAY,
            finished_at=None if finished is None else NOW - finished,
        )

    old, recent, running = run("finished", 40 * DAY), run("finished", DAY), run("running", None)
    await add(sessionmaker, old, recent, running)
    await add(
        sessionmaker,
        *(
            SyncRunItem(
                sync_run_id=r.id,
                document_id=document_id,
                integration_id=world.integration_id,
                outcome="synced",
            )
            for r in (old, recent, running)
        ),
    )

    await job(sessionmaker).run_once(NOW)

    item = (document_id, world.integration_id)
    assert not await exists(sessionmaker, SyncRunItem, (old.id, *item))
    assert await exists(sessionmaker, SyncRunItem, (recent.id, *item))
    assert await exists(sessionmaker, SyncRunItem, (running.id, *item))
    async with sessionmaker() as session:
        kept = await session.get(SyncRun, old.id)
    assert kept is not None and (kept.documents_total, kept.documents_synced) == (1, 1)


def entry(
    world: World,
    document_id: uuid.UUID,
    generation: int,
    *,
    state: str = "booked",
    age: timedelta = 40 * DAY,
    unpublished: bool = False,
) -> LedgerEntry:
    row = LedgerEntry(
        integration_id=world.integration_id,
        document_id=document_id,
        generation=generation,
        system="lexware",
        state=state,
        reference="R",
        remote_id=f"remote-{generation}" if state == "booked" else None,
        booking_number="B-1" if state == "booked" else None,
        updated_at=NOW - age,
    )
    if unpublished:  # else SQL NULL, as the ledger writes it (None would be JSON null)
        row.result_event = {"id": "x"}
    return row


def status(world: World, document_id: uuid.UUID, generation: int) -> RemoteStatus:
    return RemoteStatus(
        integration_id=world.integration_id,
        document_id=document_id,
        generation=generation,
        system="lexware",
        status="paid",
    )


async def test_only_superseded_settled_old_ledger_generations_go_with_their_status(
    sessionmaker: async_sessionmaker[AsyncSession], world: World
) -> None:
    superseded = await document(sessionmaker, world, generation=1)
    newer_in_doubt = await document(sessionmaker, world, generation=1)
    only_one = await document(sessionmaker, world, generation=0)
    result_unpublished = await document(sessionmaker, world, generation=1)
    recently_changed = await document(sessionmaker, world, generation=1)
    # The API's sync state is the authority on the current generation: never deleted.
    api_still_at_zero = await document(sessionmaker, world, generation=0)
    await add(
        sessionmaker,
        entry(world, superseded, 0),
        entry(world, superseded, 1),
        status(world, superseded, 0),
        status(world, superseded, 1),
        entry(world, newer_in_doubt, 0),
        entry(world, newer_in_doubt, 1, state="attempting"),
        entry(world, only_one, 0),
        status(world, only_one, 0),
        entry(world, result_unpublished, 0, unpublished=True),
        entry(world, result_unpublished, 1),
        entry(world, recently_changed, 0, age=DAY),
        entry(world, recently_changed, 1),
        entry(world, api_still_at_zero, 0),
        entry(world, api_still_at_zero, 1),
    )

    pruned = await job(sessionmaker).run_once(NOW)

    assert pruned["connector_ledger"] >= 1 and pruned["connector_remote_status"] >= 1
    key = world.integration_id
    assert not await exists(sessionmaker, LedgerEntry, (key, superseded, 0))
    assert not await exists(sessionmaker, RemoteStatus, (key, superseded, 0))
    assert await exists(sessionmaker, LedgerEntry, (key, superseded, 1))
    assert await exists(sessionmaker, RemoteStatus, (key, superseded, 1))
    for kept in (newer_in_doubt, only_one, result_unpublished, recently_changed, api_still_at_zero):
        assert await exists(sessionmaker, LedgerEntry, (key, kept, 0)), kept
    assert await exists(sessionmaker, RemoteStatus, (key, only_one, 0))


async def test_a_published_result_event_goes_after_the_ledger_window_and_the_entry_stays(
    sessionmaker: async_sessionmaker[AsyncSession], world: World
) -> None:
    old, recent, unpublished = [await document(sessionmaker, world) for _ in range(3)]
    published_long_ago = entry(world, old, 0)
    published_long_ago.result_event = {"id": "old"}
    published_long_ago.result_published_at = NOW - 40 * DAY
    published_lately = entry(world, recent, 0)
    published_lately.result_event = {"id": "recent"}
    published_lately.result_published_at = NOW - DAY
    await add(
        sessionmaker,
        published_long_ago,
        published_lately,
        entry(world, unpublished, 0, unpublished=True),
    )

    pruned = await job(sessionmaker).run_once(NOW)

    assert pruned["connector_ledger.result_event"] >= 1
    async with sessionmaker() as session:
        rows = {
            row.document_id: row
            for row in await session.scalars(
                select(LedgerEntry).where(LedgerEntry.document_id.in_([old, recent, unpublished]))
            )
        }
    assert rows[old].result_event is None  # the entry itself, with its booking, stays
    assert (rows[old].booking_number, rows[old].remote_id) == ("B-1", "remote-0")
    assert rows[recent].result_event == {"id": "recent"}
    assert rows[unpublished].result_event == {"id": "x"}


async def test_error_brake_rows_of_keys_no_longer_called_go(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    def row(age: timedelta) -> ConnectorCallError:
        return ConnectorCallError(
            system="exact",
            scope="division-gone",
            endpoint="salesentry",
            state="error",
            at=NOW - age,
        )

    old, counting = row(2 * DAY), row(timedelta(minutes=10))
    await add(sessionmaker, old, counting)

    await job(sessionmaker).run_once(NOW)

    assert not await exists(sessionmaker, ConnectorCallError, old.id)
    assert await exists(sessionmaker, ConnectorCallError, counting.id)


async def test_business_data_is_never_pruned(
    sessionmaker: async_sessionmaker[AsyncSession], world: World
) -> None:
    """Documents, sync states and booking numbers from long ago survive any window."""
    documents = [await document(sessionmaker, world) for _ in range(3)]
    tiny = RetentionJob(
        sessionmaker,
        type(WINDOWS)(**{name: timedelta(seconds=1) for name in vars(WINDOWS)}),
    )

    await tiny.run_once(NOW + 1000 * DAY)

    async with sessionmaker() as session:
        kept = await session.scalar(
            select(func.count()).select_from(Document).where(Document.id.in_(documents))
        )
        syncs = (
            await session.scalars(
                select(DocumentSync).where(DocumentSync.document_id.in_(documents))
            )
        ).all()
        integration = await session.get(Integration, world.integration_id)
        client = await session.get(Client, world.client_id)
    assert kept == 3
    assert [s.booking_number for s in syncs] == ["B-1"] * 3
    assert integration is not None and client is not None


async def test_a_small_batch_size_prunes_in_several_batches(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    rows = [
        ProcessedEvent(consumer="batches", event_id=uuid.uuid4(), processed_at=NOW - 30 * DAY)
        for _ in range(7)
    ]
    await add(sessionmaker, *rows)
    small = job(sessionmaker, batch_size=3)

    pruned = await small.run_once(NOW)

    assert pruned["processed_events"] >= 7
    assert small.batches["processed_events"] >= 3  # 3 + 3 + 1 at least
    async with sessionmaker() as session:
        left = await session.scalar(
            select(func.count())
            .select_from(ProcessedEvent)
            .where(ProcessedEvent.consumer == "batches")
        )
    assert left == 0


async def test_one_replica_prunes_at_a_time(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """While another replica holds the job's lock, a pass deletes nothing."""
    old = ProcessedEvent(consumer="locked", event_id=uuid.uuid4(), processed_at=NOW - 30 * DAY)
    await add(sessionmaker, old)
    async with sessionmaker.begin() as other:
        await other.execute(select(func.pg_advisory_xact_lock(0x2E7E_4710)))
        assert await job(sessionmaker).run_once(NOW) == {}
    assert await exists(sessionmaker, ProcessedEvent, (old.consumer, old.event_id))
    await job(sessionmaker).run_once(NOW)
    assert not await exists(sessionmaker, ProcessedEvent, (old.consumer, old.event_id))
