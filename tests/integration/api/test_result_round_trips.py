"""What applying one connector result costs the database, counted (not timed): the
result consumer's statements per result and the connector's round trips to record an
outcome, pinned so a regression fails. Figures in README (Benchmarks)."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from invoicesync_api.sync.results import ResultApplier
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from tests.integration.api.conftest import add_integration, invoice
from tests.integration.api.test_redelivered_results import booked_webhooks, sync_request
from tests.support.producers import RecordingProducer
from tests.support.round_trips import counting

BOOKED = "com.invoicesync.booking.assigned"


async def test_a_booking_result_is_applied_in_few_round_trips_and_a_replay_in_fewer(
    partner: httpx.Client,
    client_id: str,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    hook = partner.post(
        "/v1/webhook-endpoints", json={"url": "https://8.8.8.8/hook", "events": ["*"]}
    )
    assert hook.status_code == 201, hook.text
    await add_integration(sessionmaker, client_id)
    created = partner.post("/v1/invoices", json=invoice(client_id, number="TRIPS-1"))
    assert created.status_code == 201, created.text
    document_id = created.json()["id"]
    producer = RecordingProducer()
    runtime = ConnectorRuntime(
        FakeConnector(), sessionmaker=sessionmaker, producer=producer, retry=RetryPolicy()
    )
    await runtime.handle(await sync_request(sessionmaker, document_id))
    [result] = producer.of_type(BOOKED)
    applier = ResultApplier(sessionmaker)

    with counting(engine) as first:
        await applier.handle(result)
    with counting(engine) as replay:
        await applier.handle(result)

    # BEGIN, the inbox row, the sync state with its document and integration and the
    # number's lock (one read), the state and the number's other holders locked (one
    # statement), the document's and the state's UPDATEs, the webhook deliveries (one
    # INSERT ... SELECT), COMMIT: 8 (was 12).
    assert first.total <= 8, first.statements
    # A replay: BEGIN, the inbox row already there, COMMIT.
    assert replay.total <= 3, replay.statements
    assert await booked_webhooks(sessionmaker, document_id) == 1
    shown = partner.get(f"/v1/invoices/{document_id}").json()
    assert shown["booking_number"] == "1"
