"""A booked document and its outbox event commit together; only integrations active
before the document was created take part."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Client, Document
from invoicesync_api.documents.fanout import request_sync
from invoicesync_shared.db.models import Integration, OutboxMessage
from tests.integration.api.conftest import add_integration as add
from tests.integration.api.conftest import invoice


async def add_integration(
    sessionmaker: async_sessionmaker[AsyncSession], client_id: str, *, activated_at: datetime | None
) -> uuid.UUID:
    if activated_at is None:
        return await add(sessionmaker, client_id, status="pending_authorization")
    return await add(sessionmaker, client_id, activated_at=activated_at)


async def events_for(
    sessionmaker: async_sessionmaker[AsyncSession], document_id: str
) -> list[OutboxMessage]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.envelope["subject"].astext == document_id)
        )
        return list(rows)


async def test_booked_invoice_fans_out_to_integrations_active_before_it(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    active = await add_integration(
        sessionmaker, client_id, activated_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    later = await add_integration(
        sessionmaker, client_id, activated_at=datetime.now(UTC) + timedelta(hours=1)
    )
    await add_integration(sessionmaker, client_id, activated_at=None)  # still pending

    created = partner.post("/v1/invoices", json=invoice(client_id, number="FAN-1"))
    assert created.status_code == 201, created.text
    assert [s["integration_id"] for s in created.json()["sync"]] == [str(active)]
    assert created.json()["sync"][0]["status"] == "pending"

    events = await events_for(sessionmaker, created.json()["id"])
    assert len(events) == 1
    assert events[0].event_type == "com.invoicesync.invoice.booked"
    assert events[0].key == client_id
    targets = events[0].envelope["data"]["targets"]
    assert [t["integration_id"] for t in targets] == [str(active)]
    assert str(later) not in str(events[0].envelope)


async def test_a_refused_document_leaves_no_event(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await add_integration(
        sessionmaker, client_id, activated_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    first = partner.post("/v1/invoices", json=invoice(client_id, number="TX-1"))
    refused = partner.post(
        "/v1/invoices", json=invoice(client_id, number="TX-1", external_id="again")
    )
    assert refused.status_code == 409
    async with sessionmaker() as session:
        rows = (await session.scalars(select(OutboxMessage))).all()
    documents = [r.envelope["data"].get("document") for r in rows]  # not reconciliations'
    numbers = [d["number"] for d in documents if d and d["client_id"] == client_id]
    assert numbers == ["TX-1"]
    assert len(await events_for(sessionmaker, first.json()["id"])) == 1


async def test_booking_a_draft_emits_the_event_then(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await add_integration(
        sessionmaker, client_id, activated_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    draft = partner.post(
        "/v1/invoices", json=invoice(client_id, number="DR-1", status="draft")
    ).json()
    assert await events_for(sessionmaker, draft["id"]) == []
    booked = partner.post(f"/v1/invoices/{draft['id']}/book")
    assert booked.status_code == 200 and booked.json()["status"] == "booked"
    assert len(await events_for(sessionmaker, draft["id"])) == 1
    partner.post(f"/v1/invoices/{draft['id']}/book")  # booking twice sends nothing again
    assert len(await events_for(sessionmaker, draft["id"])) == 1


async def test_a_document_dated_before_the_start_date_is_not_sent_and_says_why(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The integration books from 2026-01-01: a document of 2025-12-31 is neither a
    target of the event nor pending for ever; its sync state names the date and the fix.
    Once the start date is moved, a retry sends it."""
    integration = await add_integration(
        sessionmaker, client_id, activated_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    old = invoice(client_id, number="START-1", issue_date="2025-12-31", due_date="2026-01-30")
    created = partner.post("/v1/invoices", json=old)
    assert created.status_code == 201, created.text
    (state,) = created.json()["sync"]
    assert (state["status"], state["error"]["code"], state["error"]["retryable"]) == (
        "failed",
        "before_start_date",
        False,
    )
    assert "2025-12-31" in state["error"]["message"] and "2026-01-01" in state["error"]["message"]
    assert await events_for(sessionmaker, created.json()["id"]) == []
    on_the_day = invoice(client_id, number="START-2", issue_date="2026-01-01")
    sent = partner.post("/v1/invoices", json=on_the_day).json()
    assert sent["sync"][0]["status"] == "pending"
    assert len(await events_for(sessionmaker, sent["id"])) == 1

    async with sessionmaker.begin() as session:
        row = await session.get(Integration, integration)
        assert row is not None
        row.settings = {**row.settings, "start_date": "2025-12-01"}
    retried = partner.post(f"/v1/invoices/{created.json()['id']}/retry")
    assert retried.status_code == 202, retried.text
    shown = partner.get(f"/v1/invoices/{created.json()['id']}").json()["sync"][0]
    assert (shown["status"], shown["error"]) == ("pending", None)
    (event,) = await events_for(sessionmaker, created.json()["id"])
    assert [t["integration_id"] for t in event.envelope["data"]["targets"]] == [str(integration)]


async def test_a_run_over_a_document_before_the_start_date_finishes_and_names_it(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """No connector will answer for a document that is not sent: the run counts it failed
    at once instead of waiting for ever."""
    await add_integration(
        sessionmaker, client_id, activated_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    old = invoice(client_id, number="START-3", issue_date="2025-12-31", due_date="2026-01-30")
    document = partner.post("/v1/invoices", json=old).json()["id"]
    started = partner.post("/v1/sync-runs", json={"document_ids": [document]})
    assert started.status_code == 202, started.text

    run = partner.get(f"/v1/sync-runs/{started.json()['id']}").json()
    assert (run["status"], run["totals"]["documents_failed"]) == ("finished", 1)
    assert [e["code"] for e in run["errors"]] == ["before_start_date"]


async def test_a_start_date_moved_later_never_disowns_a_document_already_asked_for(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Two integrations, one starting after the document's date: one row pending and the
    event's only target, the other not sent. Then the first's start date is moved past the
    document while its request is out: asked again (the sweeper, a reconnect), it stays
    pending — the connector may be booking it."""
    earlier = await add_integration(
        sessionmaker, client_id, activated_at=datetime.now(UTC) - timedelta(minutes=2)
    )
    later = await add_integration(
        sessionmaker, client_id, activated_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    async with sessionmaker.begin() as session:
        row = await session.get(Integration, later)
        assert row is not None
        row.settings = {**row.settings, "start_date": "2026-12-01"}
    created = partner.post("/v1/invoices", json=invoice(client_id, number="START-4")).json()
    states = {s["integration_id"]: s for s in created["sync"]}
    assert states[str(earlier)]["status"] == "pending" and states[str(earlier)]["error"] is None
    assert states[str(later)]["error"]["code"] == "before_start_date"
    (event,) = await events_for(sessionmaker, created["id"])
    assert [t["integration_id"] for t in event.envelope["data"]["targets"]] == [str(earlier)]

    async with sessionmaker.begin() as session:
        integration = await session.get(Integration, earlier)
        document = await session.get(Document, uuid.UUID(created["id"]))
        assert integration is not None and document is not None
        integration.settings = {**integration.settings, "start_date": "2026-12-01"}
        client = await session.get(Client, document.client_id)
        assert client is not None
        ((state, _),) = await request_sync(session, document, client, [integration])
        assert (state.status, state.error_code) == ("pending", None)
