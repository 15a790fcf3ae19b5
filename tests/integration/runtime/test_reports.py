"""What the runtime reports and where: each result on the results topic, from the
connector's source, naming the generation it answers and whether a customer was made;
a refusal of an integration awaiting consent in a bookkeeper's words; and the log lines
an operator looks for when a request is unreadable or a result waits for the relay."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from structlog.testing import capture_logs

from invoicesync_shared.connectors.protocol import Booking, PushContext
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events import topics
from invoicesync_shared.events.documents import DocumentSnapshot
from invoicesync_shared.events.results import BookingAssigned, DocumentSent, SyncFailed
from tests.integration.runtime.test_result_events import CrashingProducer
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

FAST = RetryPolicy(attempts=2, initial=0.01, maximum=0.02)


@dataclass
class NewCustomers(FakeConnector):
    """Creates the customer of every document; books numbers starting with ``DRAFT`` as
    drafts (sent, no booking number yet)."""

    async def push(self, ctx: PushContext, document: DocumentSnapshot) -> Booking:
        booking = await super().push(ctx, document)
        number = None if document.number.startswith("DRAFT") else booking.booking_number
        return replace(booking, booking_number=number, customer_created=True)


def runtime_for(
    sessionmaker: async_sessionmaker[AsyncSession],
    producer: RecordingProducer,
    connector: FakeConnector | None = None,
) -> ConnectorRuntime:
    return ConnectorRuntime(
        connector or FakeConnector(), sessionmaker=sessionmaker, producer=producer, retry=FAST
    )


async def test_booked_and_sent_results_name_their_generation_and_the_customer_made(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    producer = RecordingProducer()
    runtime = runtime_for(sessionmaker, producer, NewCustomers())
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    booked, draft = snapshot(client, "INV-7"), snapshot(client, "DRAFT-7")
    await runtime.handle(booked_event(booked, integration, generation=3))
    await runtime.handle(booked_event(draft, integration, generation=2))

    (topic_booked, on_booked), (topic_sent, on_sent) = producer.published
    assert (on_booked.type, on_sent.type) == (BookingAssigned.TYPE, DocumentSent.TYPE)
    assert topic_booked == topic_sent == topics.SYNC_RESULTS
    assert on_booked.source == on_sent.source == "/connectors/exact"
    assert on_booked.key == on_sent.key == str(client.id)
    assert (on_booked.data["generation"], on_sent.data["generation"]) == (3, 2)
    assert on_booked.data["customer_created"] is on_sent.data["customer_created"] is True
    assert on_booked.data["booking_number"] == "1" and "booking_number" not in on_sent.data


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        (None, "The integration is pending authorization."),
        # Only the reason's own full stop goes, not the letters before it.
        (
            "Consent asked of MAX.",
            "The integration is pending authorization: Consent asked of MAX.",
        ),
    ],
)
async def test_a_document_of_an_integration_awaiting_consent_is_refused_on_the_results_topic(
    sessionmaker: async_sessionmaker[AsyncSession], reason: str | None, message: str
) -> None:
    producer = RecordingProducer()
    runtime = runtime_for(sessionmaker, producer)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Integration)
            .where(Integration.id == integration.id)
            .values(status="pending_authorization", status_reason=reason)
        )
    await runtime.handle(booked_event(snapshot(client, "WAIT-1"), integration, generation=1))

    ((topic, refused),) = producer.published
    assert topic == topics.SYNC_RESULTS and refused.type == SyncFailed.TYPE
    assert refused.source == "/connectors/exact" and refused.data["generation"] == 1
    assert refused.data["message"] == message
    assert (refused.data["code"], refused.data["retryable"]) == ("integration_inactive", True)
    assert refused.data["dead_lettered"] is False


async def test_an_unreadable_request_is_logged_with_its_event_and_left(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    producer = RecordingProducer()
    runtime = runtime_for(sessionmaker, producer)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    event = booked_event(snapshot(client, "BROKEN-1"), integration)
    broken = replace(event, data={**event.data, "targets": "all", "document": {}})

    with capture_logs() as logs:
        await runtime.handle(broken)

    assert producer.published == []
    (line,) = [entry for entry in logs if entry["event"] == "invalid sync request"]
    assert line["log_level"] == "error" and line["event_id"] == broken.id
    assert isinstance(line["errors"], int) and line["errors"] >= 2  # document and targets


async def test_a_result_the_broker_did_not_take_is_logged_as_left_to_the_relay(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    producer = CrashingProducer(crashes=1)  # the broker unreachable after the commit
    runtime = runtime_for(sessionmaker, producer)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "LOST-1")

    with capture_logs() as logs:
        await runtime.handle(booked_event(document, integration))

    entry = await runtime.ledger.find(integration.id, document.id, 0)
    assert entry is not None and entry.result_event is not None
    assert entry.result_published_at is None  # the relay's to publish
    (line,) = [e for e in logs if e["event"] == "result not published; the relay will"]
    assert line["log_level"] == "error" and line["exc_info"] is True
    assert line["event_id"] == entry.result_event["id"]
