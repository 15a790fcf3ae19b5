"""A document its connector defers (Exact's day is spent) stays pending and says until
when and why, on the invoice and on the integration; the sweeper leaves it alone until
then, by the shared clock, and asks again after; the next push books it. Its sync run
counts it as moved on and finishes, so the next night's run is not refused."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import DocumentSync
from invoicesync_api.sync.results import ResultApplier
from invoicesync_api.webhooks.models import WebhookDelivery
from invoicesync_api.workers.scheduler import NightlyScheduler
from invoicesync_api.workers.sweeper import PendingSweeper
from invoicesync_shared.connectors.errors import Deferred
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import Integration, OutboxMessage
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.events.results import BookingAssigned, SyncDeferred, SyncFailed
from invoicesync_shared.states import LedgerState
from tests.integration.api.conftest import add_integration, invoice
from tests.integration.api.test_nightly import CONNECTED, TWO_AM
from tests.integration.api.test_redelivered_results import sync_request
from tests.integration.api.test_sync_runs import (
    booked,
    deliver,
    outbox_rows,
    relayed,
    run_notifications,
)
from tests.support.clocks import HeldClock, held_at
from tests.support.producers import RecordingProducer

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def moved_clock() -> Iterator[HeldClock]:
    """The shared clock, set by the test; the host's again afterwards."""
    with held_at(datetime.now(UTC)) as held:
        yield held


@pytest.fixture(autouse=True)
async def only_this_tests_integrations(sessionmaker: Sessions) -> None:
    """The sweeper looks at the whole database: earlier tests' integrations are left out."""
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Integration).where(Integration.status == "active").values(status="deactivated")
        )


async def test_a_deferred_document_waits_for_the_reset_then_is_booked(
    partner: httpx.Client, client_id: str, sessionmaker: Sessions, moved_clock: HeldClock
) -> None:
    integration_id = await add_integration(sessionmaker, client_id)
    created = partner.post("/v1/invoices", json=invoice(client_id, number="DAILY-1"))
    assert created.status_code == 201, created.text
    document_id = created.json()["id"]
    request = await sync_request(sessionmaker, document_id)
    await relayed(sessionmaker)

    reset = (moved_clock.at + timedelta(hours=5)).replace(microsecond=0)
    connector = FakeConnector()
    connector.fail_next(Deferred("day spent", until=reset, reason="daily_limit"))
    producer = RecordingProducer()
    runtime = ConnectorRuntime(connector, sessionmaker=sessionmaker, producer=producer)
    await runtime.handle(request)

    assert producer.of_type(SyncFailed.TYPE) == []  # not a failure
    [deferred] = producer.of_type(SyncDeferred.TYPE)
    assert deferred.data["waiting_until"] == reset.isoformat().replace("+00:00", "Z")
    entry = await runtime.ledger.find(integration_id, uuid.UUID(document_id), 0)
    assert entry is not None and entry.lease_expires_at is None
    assert entry.state == LedgerState.FAILED  # nothing sent: no lookup needed next time
    applier = ResultApplier(sessionmaker)
    await applier.handle(deferred)

    [sync] = partner.get(f"/v1/invoices/{document_id}").json()["sync"]
    assert sync["status"] == "pending"
    assert sync["waiting_reason"] == "daily_limit"
    assert datetime.fromisoformat(sync["waiting_until"]) == reset
    shown = partner.get(f"/v1/integrations/{integration_id}").json()
    assert (shown["waiting_reason"], datetime.fromisoformat(shown["waiting_until"])) == (
        "daily_limit",
        reset,
    )

    # Long after the request by the sweeper's usual waits, but before the reset: left alone.
    sweeper = PendingSweeper(sessionmaker, pending_after=timedelta(minutes=10))
    moved_clock.at = reset - timedelta(seconds=1)
    assert await sweeper.sweep_once(datetime.now(UTC) + timedelta(hours=3)) == 0
    assert await outbox_rows(sessionmaker, document_id) == 1
    # Held back on purpose, not lost: it does not age the oldest-pending gauge.
    oldest = REGISTRY.get_sample_value("invoicesync_sweeper_oldest_pending_age_seconds")
    assert oldest is not None and oldest < 3600

    moved_clock.at = reset + timedelta(seconds=1)
    assert await sweeper.sweep_once() == 1
    assert await outbox_rows(sessionmaker, document_id) == 2
    [sync] = partner.get(f"/v1/invoices/{document_id}").json()["sync"]
    assert (sync["status"], sync["waiting_until"], sync["waiting_reason"]) == (
        "pending",
        None,
        None,
    )
    assert partner.get(f"/v1/integrations/{integration_id}").json()["waiting_until"] is None

    await runtime.handle(await _latest_request(sessionmaker, document_id))
    [booked] = producer.of_type(BookingAssigned.TYPE)
    await applier.handle(booked)
    assert connector.lookups == 0
    [sync] = partner.get(f"/v1/invoices/{document_id}").json()["sync"]
    assert (sync["status"], sync["waiting_until"]) == ("booked", None)


async def _latest_request(sessionmaker: Sessions, document_id: str) -> Envelope:
    """The sweeper's request, the last one queued for the document."""
    async with sessionmaker() as session:
        row = await session.scalar(
            select(OutboxMessage.envelope)
            .where(OutboxMessage.envelope["subject"].astext == document_id)
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
    assert row is not None
    return Envelope.from_json(row)


async def _deferred_by_the_connector(
    sessionmaker: Sessions, document_id: str, until: datetime
) -> Envelope:
    """The document's latest request (its run's) pushed by a connector that finds the
    division's day spent until ``until``: the ``SyncDeferred`` it publishes."""
    connector = FakeConnector()
    connector.fail_next(Deferred("day spent", until=until, reason="daily_limit"))
    producer = RecordingProducer()
    runtime = ConnectorRuntime(connector, sessionmaker=sessionmaker, producer=producer)
    await runtime.handle(await _latest_request(sessionmaker, document_id))
    [deferred] = producer.of_type(SyncDeferred.TYPE)
    return deferred


async def _run_finished_webhook(sessionmaker: Sessions, run_id: str) -> dict[str, Any]:
    async with sessionmaker() as session:
        payload = await session.scalar(
            select(WebhookDelivery.payload).where(
                WebhookDelivery.event_type == "sync_run.finished",
                WebhookDelivery.payload["data"]["sync_run_id"].astext == run_id,
            )
        )
    assert payload is not None
    data: dict[str, Any] = payload["data"]
    return data


async def test_a_run_finishes_saying_what_it_moved_until_the_reset(
    partner: httpx.Client, client_id: str, sessionmaker: Sessions
) -> None:
    hook = partner.post(
        "/v1/webhook-endpoints",
        json={"url": "https://8.8.8.8/hook", "events": ["sync_run.finished"]},
    )
    assert hook.status_code == 201, hook.text
    integration_id = await add_integration(sessionmaker, client_id)
    document_id = partner.post("/v1/invoices", json=invoice(client_id, number="MOVED-1")).json()[
        "id"
    ]
    started = partner.post("/v1/sync-runs", json={"document_ids": [document_id]})
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    reset = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)

    deferred = await _deferred_by_the_connector(sessionmaker, document_id, reset)
    assert deferred.data["sync_run_id"] == run_id
    await ResultApplier(sessionmaker).handle(deferred)

    run = partner.get(f"/v1/sync-runs/{run_id}").json()
    assert run["status"] == "finished"
    assert run["totals"] == {
        "documents_total": 1,
        "documents_synced": 0,
        "documents_failed": 0,
        "documents_deferred": 1,
        "customers_synced": 0,
        "suppliers_synced": 0,
        "documents_pending": 0,
    }
    assert run["errors"] == []
    assert run["deferred"] == [
        {
            "document_id": document_id,
            "number": "MOVED-1",
            "integration_id": str(integration_id),
            "system": "exact",
            "waiting_until": "2026-12-05T09:00:00Z",
            "reason": "daily_limit",
        }
    ]
    listed = partner.get("/v1/sync-runs", params={"client_id": client_id}).json()
    assert [r["deferred"] for r in listed if r["id"] == run_id] == [run["deferred"]]
    [sync] = partner.get(f"/v1/invoices/{document_id}").json()["sync"]
    assert (sync["status"], sync["waiting_reason"]) == ("pending", "daily_limit")
    assert datetime.fromisoformat(sync["waiting_until"]) == reset
    (notification,) = await run_notifications(sessionmaker, run_id)
    assert notification.body == (
        "0 of 1 document synced, 0 failed; 1 document moved until 2026-12-05 09:00 UTC "
        "(Exact Online's daily API limit was reached); 0 new customers created."
    )
    assert notification.counts["documents_deferred"] == 1
    webhook = await _run_finished_webhook(sessionmaker, run_id)
    assert (webhook["deferred"], webhook["totals"]) == (run["deferred"], run["totals"])

    # Booked after the reset: the document says so, the finished run stays as it was.
    await deliver(sessionmaker, booked(document_id, integration_id, run_id, "26700100"))
    assert partner.get(f"/v1/invoices/{document_id}").json()["sync"][0]["status"] == "booked"
    assert partner.get(f"/v1/sync-runs/{run_id}").json() == run


async def test_a_nightly_run_the_day_could_not_afford_does_not_hold_the_next_night(
    partner: httpx.Client, client_id: str, sessionmaker: Sessions
) -> None:
    integration_id = await add_integration(
        sessionmaker, client_id, nightly=True, activated_at=CONNECTED
    )
    document_id = partner.post("/v1/invoices", json=invoice(client_id, number="MOVED-2")).json()[
        "id"
    ]
    async with sessionmaker.begin() as session:  # its first send failed: the night sends it
        await session.execute(
            update(DocumentSync)
            .where(DocumentSync.integration_id == integration_id)
            .values(status="failed", error_code="unavailable", error_retryable=True)
        )
    scheduler = NightlyScheduler(sessionmaker)
    [first] = await scheduler.tick(TWO_AM)

    deferred = await _deferred_by_the_connector(
        sessionmaker, document_id, TWO_AM + timedelta(hours=22)
    )
    await ResultApplier(sessionmaker).handle(deferred)

    run = partner.get(f"/v1/sync-runs/{first}").json()
    assert (run["status"], run["totals"]["documents_deferred"]) == ("finished", 1)
    assert [d["number"] for d in run["deferred"]] == ["MOVED-2"]
    assert await run_notifications(sessionmaker, str(first)) == []  # nightly: no bell
    [second] = await scheduler.tick(TWO_AM + timedelta(days=1))  # started, not skipped
    assert second != first


async def test_a_deferral_said_again_is_counted_once(
    partner: httpx.Client, client_id: str, sessionmaker: Sessions
) -> None:
    """The same report redelivered, and a second deferral under the same run (its request
    was delivered again and the day is still spent): one moved document, the first wait."""
    await add_integration(sessionmaker, client_id)
    documents = [
        partner.post("/v1/invoices", json=invoice(client_id, number=f"MOVED-3{n}")).json()["id"]
        for n in range(2)
    ]
    run_id = partner.post("/v1/sync-runs", json={"document_ids": documents}).json()["id"]
    reset = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    applier = ResultApplier(sessionmaker)

    deferred = await _deferred_by_the_connector(sessionmaker, documents[0], reset)
    await applier.handle(deferred)
    await applier.handle(deferred)  # redelivered
    again = await _deferred_by_the_connector(sessionmaker, documents[0], reset + timedelta(days=1))
    assert again.id != deferred.id
    await applier.handle(again)

    run = partner.get(f"/v1/sync-runs/{run_id}").json()
    assert run["status"] == "running"  # the other document is still on its way
    assert (run["totals"]["documents_deferred"], run["totals"]["documents_pending"]) == (1, 1)
    assert [d["waiting_until"] for d in run["deferred"]] == ["2026-12-05T09:00:00Z"]
