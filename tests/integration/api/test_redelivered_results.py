"""A redelivered sync request, through the connector runtime and the API's result consumer:
the repeated result is the same event, so the document is announced booked once."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.sync.results import ResultApplier
from invoicesync_api.webhooks.models import WebhookDelivery
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import OutboxMessage
from invoicesync_shared.events import topics
from invoicesync_shared.events.envelope import Envelope
from tests.integration.api.conftest import add_integration, invoice
from tests.support.producers import RecordingProducer

BOOKED = "com.invoicesync.booking.assigned"


async def sync_request(
    sessionmaker: async_sessionmaker[AsyncSession], document_id: str
) -> Envelope:
    """The request the API queued for the document, as the relay publishes it."""
    async with sessionmaker() as session:
        row = await session.scalar(
            select(OutboxMessage.envelope).where(
                OutboxMessage.topic == topics.DOCUMENTS,
                OutboxMessage.envelope["subject"].astext == document_id,
            )
        )
    assert row is not None
    return Envelope.from_json(row)


async def booked_webhooks(sessionmaker: async_sessionmaker[AsyncSession], document_id: str) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(
                WebhookDelivery.event_type == "document.booked",
                WebhookDelivery.payload["data"]["document_id"].astext == document_id,
            )
        )
    return int(count or 0)


async def test_a_redelivered_request_books_and_announces_once(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    hook = partner.post(
        "/v1/webhook-endpoints",
        json={"url": "https://8.8.8.8/hook", "events": ["document.booked"]},
    )
    assert hook.status_code == 201, hook.text
    await add_integration(sessionmaker, client_id)
    created = partner.post("/v1/invoices", json=invoice(client_id, number="REDELIVER-1"))
    assert created.status_code == 201, created.text
    document_id = created.json()["id"]
    request = await sync_request(sessionmaker, document_id)

    producer = RecordingProducer()
    runtime = ConnectorRuntime(
        FakeConnector(), sessionmaker=sessionmaker, producer=producer, retry=RetryPolicy()
    )
    await runtime.handle(request)
    await runtime.handle(request)  # the consumer's commit was lost: delivered again
    applier = ResultApplier(sessionmaker)
    for result in producer.of_type(BOOKED):
        await applier.handle(result)

    assert len({r.id for r in producer.of_type(BOOKED)}) == 1
    assert await booked_webhooks(sessionmaker, document_id) == 1
    shown = partner.get(f"/v1/invoices/{document_id}").json()
    assert shown["booking_number"] == "1"
