"""A document its connector defers (Exact's day is spent) stays pending and says until
when and why, on the invoice and on the integration; the sweeper leaves it alone until
then, by the shared clock, and asks again after; the next push books it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.sync.results import ResultApplier
from invoicesync_api.workers.sweeper import PendingSweeper
from invoicesync_shared import clock
from invoicesync_shared.connectors import ledger as ledger_states
from invoicesync_shared.connectors.errors import Deferred
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import Integration, OutboxMessage
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.events.results import BookingAssigned, SyncDeferred, SyncFailed
from tests.integration.api.conftest import add_integration, invoice
from tests.integration.api.test_redelivered_results import sync_request
from tests.integration.api.test_sync_runs import outbox_rows, relayed
from tests.support.producers import RecordingProducer

Sessions = async_sessionmaker[AsyncSession]


class _At:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def moved_clock() -> Iterator[_At]:
    """The shared clock, set by the test; the host's again afterwards."""
    at = _At(datetime.now(UTC))
    clock.use(at)
    yield at
    clock.use(clock.SystemClock())


@pytest.fixture(autouse=True)
async def only_this_tests_integrations(sessionmaker: Sessions) -> None:
    """The sweeper looks at the whole database: earlier tests' integrations are left out."""
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Integration).where(Integration.status == "active").values(status="deactivated")
        )


async def test_a_deferred_document_waits_for_the_reset_then_is_booked(
    partner: httpx.Client, client_id: str, sessionmaker: Sessions, moved_clock: _At
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
    assert entry.state == ledger_states.FAILED  # nothing sent: no lookup needed next time
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
