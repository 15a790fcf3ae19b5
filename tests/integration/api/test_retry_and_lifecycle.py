"""Asking again for one document, deactivating an integration from a date, and a refused
relink, each through the API on its own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import DocumentSync
from invoicesync_api.integrations.service import set_verdict
from invoicesync_api.integrations.verification import Verdict
from invoicesync_shared.db.models import Integration, OutboxMessage
from tests.integration.api.conftest import add_integration, invoice
from tests.integration.api.test_monotonic_sync import failure
from tests.integration.api.test_sync_runs import booked, deliver
from tests.support.clocks import held_at


async def requests_for(
    sessionmaker: async_sessionmaker[AsyncSession], document_id: str
) -> list[dict[str, Any]]:
    """The sync requests staged in the outbox for the document, oldest first."""
    async with sessionmaker() as session:
        envelopes = await session.scalars(
            select(OutboxMessage.envelope)
            .where(OutboxMessage.envelope["subject"].astext == document_id)
            .order_by(OutboxMessage.id)
        )
        return list(envelopes)


async def sync_row(
    sessionmaker: async_sessionmaker[AsyncSession], document_id: str, integration: uuid.UUID
) -> DocumentSync:
    async with sessionmaker() as session:
        row = await session.get(DocumentSync, (uuid.UUID(document_id), integration))
    assert row is not None
    return row


@pytest.mark.parametrize(
    ("code", "retryable", "shown", "asked"),
    [
        ("unavailable", True, "failed", "pending"),
        ("unknown_vat_code", False, "failed", "pending"),
        ("ambiguous_match", False, "ambiguous", "pending"),
        # It may be booked: still unknown until the connector's look-up answers.
        ("outcome_unknown", True, "ambiguous", "ambiguous"),
    ],
)
async def test_retry_asks_again_for_a_failed_or_unknown_sync(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    code: str,
    retryable: bool,
    shown: str,
    asked: str,
) -> None:
    """Retry stages one new request for the integration where the document failed (or
    its outcome is unknown) and makes it pending again, without the error."""
    integration = await add_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number=f"RETRY-{code}")).json()
    await deliver(sessionmaker, failure(doc["id"], integration, code, retryable=retryable))
    assert partner.get(f"/v1/invoices/{doc['id']}").json()["sync"][0]["status"] == shown
    before = await requests_for(sessionmaker, doc["id"])

    retried = partner.post(f"/v1/invoices/{doc['id']}/retry")

    assert retried.status_code == 202, retried.text
    [state] = retried.json()["sync"]
    assert state["status"] == asked
    assert (state["error"] is None) == (asked == "pending")
    after = await requests_for(sessionmaker, doc["id"])
    assert after[: len(before)] == before and len(after) == len(before) + 1
    assert [t["integration_id"] for t in after[-1]["data"]["targets"]] == [str(integration)]
    assert (await sync_row(sessionmaker, doc["id"], integration)).status == asked


async def test_retry_asks_only_where_the_document_failed(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Booked in Exact, failed in Yuki: the retry goes to Yuki; Exact's booking stays."""
    exact = await add_integration(sessionmaker, client_id, system="exact")
    yuki = await add_integration(sessionmaker, client_id, system="yuki")
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="RETRY-PAIR")).json()["id"]
    await deliver(sessionmaker, booked(doc, exact, None, "26700101"))
    await deliver(sessionmaker, failure(doc, yuki, "unavailable", retryable=True))

    retried = partner.post(f"/v1/invoices/{doc}/retry")

    assert retried.status_code == 202, retried.text
    states = {s["system"]: s for s in retried.json()["sync"]}
    assert (states["exact"]["status"], states["exact"]["booking_number"]) == ("booked", "26700101")
    assert states["yuki"]["status"] == "pending"
    last = (await requests_for(sessionmaker, doc))[-1]
    assert [t["integration_id"] for t in last["data"]["targets"]] == [str(yuki)]


async def test_retry_of_a_document_synced_everywhere_is_refused(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration = await add_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="RETRY-DONE")).json()["id"]
    await deliver(sessionmaker, booked(doc, integration, None, "26700102"))
    before = await requests_for(sessionmaker, doc)

    assert partner.post(f"/v1/invoices/{doc}/retry").status_code == 409
    assert await requests_for(sessionmaker, doc) == before


async def booked_before_and_after_november(
    partner: httpx.Client,
    sessionmaker: async_sessionmaker[AsyncSession],
    client_id: str,
    integration: uuid.UUID,
    prefix: str,
    booking_numbers: tuple[str, str],
) -> tuple[str, str]:
    """Two documents booked in ``integration``, issued 2026-10-15 and 2026-11-20, so that
    a reset from 2026-11-01 takes the newer and keeps the older: their ids, older first."""
    older, newer = (
        partner.post(
            "/v1/invoices", json=invoice(client_id, number=f"{prefix}-{n}", issue_date=day)
        ).json()["id"]
        for n, day in enumerate(("2026-10-15", "2026-11-20"))
    )
    await deliver(sessionmaker, booked(older, integration, None, booking_numbers[0]))
    await deliver(sessionmaker, booked(newer, integration, None, booking_numbers[1]))
    return older, newer


async def test_deactivate_resets_the_documents_from_the_date_and_keeps_the_older_ones(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """From the date: pending at a new generation, the booking number gone (also from
    the document's own); before it: booked as it was. The integration is deactivated."""
    integration = await add_integration(sessionmaker, client_id)
    older, newer = await booked_before_and_after_november(
        partner, sessionmaker, client_id, integration, "DEACT", ("26700201", "26700202")
    )
    generation = (await sync_row(sessionmaker, newer, integration)).generation

    response = partner.post(
        f"/v1/integrations/{integration}/deactivate", json={"from_date": "2026-11-01"}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["documents_reset"] == 1
    assert body["integration"]["status"] == "deactivated"
    assert body["integration"]["deactivated_at"] is not None
    reset = await sync_row(sessionmaker, newer, integration)
    assert (reset.status, reset.booking_number, reset.remote_id) == ("pending", None, None)
    assert reset.generation == generation + 1
    shown = partner.get(f"/v1/invoices/{newer}").json()
    assert shown["booking_number"] is None
    kept = await sync_row(sessionmaker, older, integration)
    assert (kept.status, kept.booking_number) == ("booked", "26700201")
    assert partner.get(f"/v1/invoices/{older}").json()["booking_number"] == "26700201"
    unsynced = partner.get(
        "/v1/invoices", params={"client_id": client_id, "booking_number": "null"}
    ).json()["data"]
    assert {d["id"] for d in unsynced} == {newer}
    async with sessionmaker() as session:
        stored = await session.get(Integration, integration)
    assert stored is not None and stored.status == "deactivated"

    again = partner.post(
        f"/v1/integrations/{integration}/deactivate", json={"from_date": "2026-11-01"}
    )
    assert again.status_code == 409


async def test_a_refused_relink_changes_nothing(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """No connector answers here, so the connection check fails: 422 connection_failed,
    and the integration keeps its status and settings, its documents their state."""
    integration = await add_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="RELINK-NO")).json()["id"]
    await deliver(sessionmaker, booked(doc, integration, None, "26700301"))
    deactivated = partner.post(
        f"/v1/integrations/{integration}/deactivate", json={"from_date": "2026-12-01"}
    )
    assert deactivated.status_code == 200, deactivated.text
    before: dict[str, Any] = partner.get(f"/v1/integrations/{integration}").json()

    refused = partner.post(
        f"/v1/integrations/{integration}/relink", json={"settings": {"sales_journal": "71"}}
    )

    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "connection_failed"
    after: dict[str, Any] = partner.get(f"/v1/integrations/{integration}").json()
    assert after["status"] == "deactivated"
    assert after["settings"] == before["settings"]
    assert after["settings"]["sales_journal"] == "70"
    kept = await sync_row(sessionmaker, doc, integration)
    assert (kept.status, kept.booking_number) == ("booked", "26700301")


async def test_deactivated_now_is_the_shared_clocks_now(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Deactivated at the shared clock's time, as everything dated after it is judged."""
    integration = await add_integration(sessionmaker, client_id)
    moved = datetime(2039, 3, 4, 5, 6, 7, tzinfo=UTC)
    with held_at(moved):
        response = partner.post(
            f"/v1/integrations/{integration}/deactivate", json={"from_date": "2026-12-01"}
        )
    assert response.status_code == 200, response.text
    assert datetime.fromisoformat(response.json()["integration"]["deactivated_at"]) == moved
    async with sessionmaker() as session:
        stored = await session.get(Integration, integration)
    assert stored is not None and stored.deactivated_at == moved


async def test_first_activated_at_the_shared_clocks_now(
    client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A first passed check dates the activation by the shared clock: documents created
    after it (on the same clock) are the ones it books."""
    integration = await add_integration(sessionmaker, client_id)
    moved = datetime(2039, 5, 6, 7, 8, 9, tzinfo=UTC)
    async with sessionmaker.begin() as session:
        row = await session.get(Integration, integration)
        assert row is not None
        row.activated_at = None  # never connected yet
        with held_at(moved):
            set_verdict(row, Verdict(True))
    async with sessionmaker() as session:
        stored = await session.get(Integration, integration)
    assert stored is not None and stored.activated_at == moved
