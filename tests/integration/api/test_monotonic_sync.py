"""Sync state moves forward only: a late or redelivered answer never flips a settled
document, and the same outcome is announced (webhook, run tally) once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import DocumentSync
from invoicesync_api.webhooks.models import WebhookDelivery
from invoicesync_shared.events.results import DocumentSent, SyncFailed
from tests.integration.api.conftest import add_integration, invoice, quiet_webhook_endpoint
from tests.integration.api.test_sync_runs import booked, deliver


@pytest.fixture
async def endpoint(
    client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[uuid.UUID]:
    async with quiet_webhook_endpoint(sessionmaker, client_id, ["*"]) as endpoint_id:
        yield endpoint_id


async def webhooks(
    sessionmaker: async_sessionmaker[AsyncSession],
    endpoint_id: uuid.UUID,
    document_id: str,
) -> list[str]:
    """The event types queued for the document, oldest first."""
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(WebhookDelivery.event_type)
            .where(
                WebhookDelivery.endpoint_id == endpoint_id,
                WebhookDelivery.payload["data"]["document_id"].astext == document_id,
            )
            .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
        )
        return list(rows)


def failure(
    document_id: str, integration_id: uuid.UUID, code: str, *, retryable: bool
) -> SyncFailed:
    return SyncFailed(
        document_id=uuid.UUID(document_id),
        integration_id=integration_id,
        code=code,
        message=f"{code} (test)",
        retryable=retryable,
    )


def sync_of(partner: httpx.Client, document_id: str) -> dict[str, object]:
    state: dict[str, object] = partner.get(f"/v1/invoices/{document_id}").json()["sync"][0]
    return state


async def test_a_late_failure_never_flips_a_booked_document(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    endpoint: uuid.UUID,
) -> None:
    """Booked, then the connector answers a redelivered request ``integration_inactive``
    (it checks the integration before its ledger): the document stays booked and no
    ``document.sync_failed`` follows the ``document.booked``."""
    integration = await add_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="MONO-1")).json()["id"]
    await deliver(sessionmaker, booked(doc, integration, None, "26800001"))

    late = failure(doc, integration, "integration_inactive", retryable=False)
    await deliver(sessionmaker, late)
    await deliver(sessionmaker, failure(doc, integration, "outcome_unknown", retryable=True))

    state = sync_of(partner, doc)
    assert (state["status"], state["booking_number"], state["error"]) == (
        "booked",
        "26800001",
        None,
    )
    assert await webhooks(sessionmaker, endpoint, doc) == ["document.booked"]


async def test_the_same_outcome_under_a_new_event_id_is_announced_once(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    endpoint: uuid.UUID,
) -> None:
    """A redelivered request re-emits its result with a new id and a late ``sent`` comes
    after the number: one ``document.sent``, one ``document.booked``, state booked."""
    integration = await add_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="MONO-2")).json()["id"]
    sent = DocumentSent(
        document_id=uuid.UUID(doc),
        integration_id=integration,
        remote_id="r-26800002",
        sent_at=datetime.now(UTC),
    )
    await deliver(sessionmaker, sent)
    await deliver(sessionmaker, sent.model_copy())  # re-emitted: a new envelope id
    await deliver(sessionmaker, booked(doc, integration, None, "26800002"))
    await deliver(sessionmaker, sent.model_copy())
    await deliver(sessionmaker, booked(doc, integration, None, "26800002"))

    state = sync_of(partner, doc)
    assert (state["status"], state["booking_number"]) == ("booked", "26800002")
    assert await webhooks(sessionmaker, endpoint, doc) == ["document.sent", "document.booked"]


async def test_a_permanent_failure_stays_until_a_person_retries(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    endpoint: uuid.UUID,
) -> None:
    """Failed for good: a late answer of the same generation changes nothing; the retry
    is a new request, so its answer applies."""
    integration = await add_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="MONO-3")).json()["id"]
    await deliver(sessionmaker, failure(doc, integration, "unknown_vat_code", retryable=False))
    await deliver(sessionmaker, failure(doc, integration, "outcome_unknown", retryable=True))
    await deliver(sessionmaker, failure(doc, integration, "unknown_vat_code", retryable=False))
    assert sync_of(partner, doc)["status"] == "failed"
    assert await webhooks(sessionmaker, endpoint, doc) == ["document.sync_failed"]

    assert partner.post(f"/v1/invoices/{doc}/retry").status_code == 202
    await deliver(sessionmaker, booked(doc, integration, None, "26800003"))
    assert sync_of(partner, doc)["status"] == "booked"
    assert await webhooks(sessionmaker, endpoint, doc) == [
        "document.sync_failed",
        "document.booked",
    ]


async def test_a_retryable_failure_moves_forward_and_is_announced_once(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    endpoint: uuid.UUID,
) -> None:
    integration = await add_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="MONO-4")).json()["id"]
    await deliver(sessionmaker, failure(doc, integration, "unavailable", retryable=True))
    await deliver(sessionmaker, failure(doc, integration, "unavailable", retryable=True))
    await deliver(sessionmaker, booked(doc, integration, None, "26800004"))
    assert sync_of(partner, doc)["status"] == "booked"
    assert await webhooks(sessionmaker, endpoint, doc) == [
        "document.sync_failed",
        "document.booked",
    ]


async def test_a_run_counts_an_answer_that_comes_after_the_document_settled(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The run's own answer is not a transition (an older request's answer booked the
    document first), yet the run learns of it and finishes, counting it as synced."""
    integration = await add_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="MONO-5")).json()["id"]
    async with sessionmaker.begin() as session:
        await session.execute(
            update(DocumentSync)
            .where(DocumentSync.integration_id == integration)
            .values(status="failed", error_code="unavailable", error_retryable=True)
        )
    run_id = partner.post("/v1/sync-runs", json={"client_id": client_id}).json()["id"]
    await deliver(sessionmaker, booked(doc, integration, None, "26800005"))  # the older request
    await deliver(sessionmaker, booked(doc, integration, run_id, "26800005"))

    run = partner.get(f"/v1/sync-runs/{run_id}").json()
    assert run["status"] == "finished"
    assert (run["totals"]["documents_synced"], run["totals"]["documents_failed"]) == (1, 0)


async def test_asking_again_about_an_unknown_outcome_announces_it_once(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    endpoint: uuid.UUID,
) -> None:
    """The sweeper, a replay or a retry asks again about a document whose outcome is
    unknown; if the look-up cannot answer either, nothing new is announced."""
    integration = await add_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="ASK-1")).json()["id"]
    await deliver(sessionmaker, failure(doc, integration, "outcome_unknown", retryable=True))
    retried = partner.post(f"/v1/invoices/{doc}/retry")
    assert retried.status_code == 202, retried.text
    assert sync_of(partner, doc)["status"] == "ambiguous"  # may be booked: still unknown
    await deliver(sessionmaker, failure(doc, integration, "outcome_unknown", retryable=True))
    await deliver(sessionmaker, booked(doc, integration, None, "26800003"))

    assert await webhooks(sessionmaker, endpoint, doc) == [
        "document.sync_failed",
        "document.booked",
    ]


async def test_look_alikes_found_are_not_made_unknown_again_by_a_late_copy(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    endpoint: uuid.UUID,
) -> None:
    """Unknown, then a lookup finds look-alikes; a redelivered copy of the request meets a
    lookup that cannot get through. The document stays with the bookkeeper (look-alikes),
    announced unknown once; a person's retry is a new request, whose answer applies."""
    integration = await add_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="ASK-2")).json()["id"]
    await deliver(sessionmaker, failure(doc, integration, "outcome_unknown", retryable=True))
    await deliver(sessionmaker, failure(doc, integration, "ambiguous_match", retryable=True))
    await deliver(sessionmaker, failure(doc, integration, "outcome_unknown", retryable=True))
    assert sync_of(partner, doc)["error"]["code"] == "ambiguous_match"  # type: ignore[index]
    assert await webhooks(sessionmaker, endpoint, doc) == ["document.sync_failed"] * 2

    assert partner.post(f"/v1/invoices/{doc}/retry").status_code == 202
    await deliver(sessionmaker, failure(doc, integration, "outcome_unknown", retryable=True))
    assert sync_of(partner, doc)["error"]["code"] == "outcome_unknown"  # type: ignore[index]
    assert await webhooks(sessionmaker, endpoint, doc) == ["document.sync_failed"] * 3
