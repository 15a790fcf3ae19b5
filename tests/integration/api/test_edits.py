"""PATCH after a sync: Yuki gets the edit again (with the cost-centre warning); Exact and
Lexware keep what they have, and the answer says so. PATCH while the first request is on
its way: Yuki gets the edit after it; the others may book the version before it."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Document, DocumentSync
from invoicesync_api.integrations import connection
from invoicesync_api.sync.results import ResultApplier
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import Integration, OutboxMessage
from invoicesync_shared.events.documents import PURCHASE_KINDS, SALES_KINDS
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.integration_settings import SettingsModel
from tests.integration.api.conftest import add_integration, invoice
from tests.integration.api.test_purchase_documents import purchase
from tests.support.locks import until_it_waits_on_a_lock
from tests.support.producers import RecordingProducer

BOOKED = "com.invoicesync.booking.assigned"
UPDATED = "com.invoicesync.document.updated"
BOUND = 20.0  # seconds: a failure shows as a timeout, not a hang


async def event_types(
    sessionmaker: async_sessionmaker[AsyncSession], document_id: str
) -> list[str]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxMessage.event_type)
            .where(OutboxMessage.envelope["subject"].astext == document_id)
            .order_by(OutboxMessage.id)
        )
        return list(rows)


async def booked_everywhere(
    sessionmaker: async_sessionmaker[AsyncSession],
    document_id: str,
    booking_number: str,
    *,
    remote_id: str | None = None,
) -> None:
    """The document booked in each of its integrations, as the connectors' answers leave it."""
    async with sessionmaker.begin() as session:
        await session.execute(
            update(DocumentSync)
            .where(DocumentSync.document_id == uuid.UUID(document_id))
            .values(status="booked", booking_number=booking_number, remote_id=remote_id)
        )


async def test_edit_of_synced_document_per_system(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    yuki = await add_integration(sessionmaker, client_id, system="yuki")
    await add_integration(sessionmaker, client_id, system="exact")
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="ED-1")).json()["id"]
    await booked_everywhere(sessionmaker, doc, "000001")
    lines = [
        {
            "description": "Work",
            "quantity": "4",
            "unit_price": "50.00",
            "vat_rate": "21",
            "cost_centre": "CC1",
        }
    ]
    edited = partner.patch(f"/v1/invoices/{doc}", json={"lines": lines})
    assert edited.status_code == 200, edited.text
    assert edited.json()["totals"] == {"net": "200.00", "vat": "42.00", "gross": "242.00"}
    warnings = " ".join(edited.json()["warnings"])
    assert "cost centres" in warnings and "Yuki" in warnings
    assert "NOT pushed" in warnings and "Exact Online" in warnings
    types = await event_types(sessionmaker, doc)
    assert types == ["com.invoicesync.invoice.booked", "com.invoicesync.document.updated"]
    async with sessionmaker() as session:
        updated = (
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.event_type == "com.invoicesync.document.updated",
                    OutboxMessage.envelope["subject"].astext == doc,
                )
            )
        ).one()
    assert [t["integration_id"] for t in updated.envelope["data"]["targets"]] == [str(yuki)]
    assert updated.envelope["data"]["document"]["revision"] == 1


async def test_edit_of_unsynced_document_warns_nothing(
    partner: httpx.Client, client_id: str
) -> None:
    doc = partner.post(
        "/v1/invoices", json=invoice(client_id, number="ED-2", status="draft")
    ).json()["id"]
    edited = partner.patch(f"/v1/invoices/{doc}", json={"due_date": "2026-12-31"})
    assert edited.status_code == 200 and edited.json()["warnings"] == []
    refused = partner.patch(f"/v1/invoices/{doc}", json={"due_date": "2026-01-01"})
    assert refused.status_code == 422 and "due_date" in refused.json()["detail"]


async def test_an_edit_while_disconnected_is_asked_as_an_edit_on_resume(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Edited while both connections were broken: nothing goes out then. On resume Yuki is
    asked for the edit (DocumentUpdated); Exact keeps what it has and is not asked at all."""
    yuki = await add_integration(sessionmaker, client_id, system="yuki")
    exact = await add_integration(sessionmaker, client_id, system="exact")
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="ED-3")).json()["id"]
    await booked_everywhere(sessionmaker, doc, "000003", remote_id="r-3")
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Integration)
            .where(Integration.id.in_([yuki, exact]))
            .values(status="needs_reauthorization")
        )
    edited = partner.patch(f"/v1/invoices/{doc}", json={"due_date": "2026-12-31"})
    assert edited.status_code == 200, edited.text
    assert "NOT pushed" in " ".join(edited.json()["warnings"])
    assert await event_types(sessionmaker, doc) == ["com.invoicesync.invoice.booked"]
    for integration_id in (yuki, exact):
        async with sessionmaker.begin() as session:
            integration = await session.get(Integration, integration_id)
            assert integration is not None
            integration.status = "active"
            await connection.resume(session, integration)
    assert await event_types(sessionmaker, doc) == [
        "com.invoicesync.invoice.booked",
        "com.invoicesync.document.updated",
    ]
    async with sessionmaker() as session:
        updated = (
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.event_type == "com.invoicesync.document.updated",
                    OutboxMessage.envelope["subject"].astext == doc,
                )
            )
        ).one()
    assert [t["integration_id"] for t in updated.envelope["data"]["targets"]] == [str(yuki)]
    assert updated.envelope["data"]["document"]["revision"] == 1


def _runtime(
    system: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    kinds: frozenset[str] = SALES_KINDS,
) -> tuple[ConnectorRuntime[SettingsModel], RecordingProducer]:
    producer = RecordingProducer()
    runtime = ConnectorRuntime(
        FakeConnector(system=system, kinds=kinds),
        sessionmaker=sessionmaker,
        producer=producer,
        retry=RetryPolicy(),
    )
    return runtime, producer


async def _outbox(
    sessionmaker: async_sessionmaker[AsyncSession], document_id: str, event_type: str
) -> list[Envelope]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxMessage.envelope)
            .where(
                OutboxMessage.event_type == event_type,
                OutboxMessage.envelope["subject"].astext == document_id,
            )
            .order_by(OutboxMessage.id)
        )
        return [Envelope.from_json(row) for row in rows]


async def test_an_edit_while_the_first_request_is_on_its_way(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Edited before the first push was answered: the request on its way carries the
    version before the edit. The answer warns of it per system. When that version's answer
    comes, Yuki is asked for the edit at once (as for an edit of a booked document); Exact
    keeps what it booked. The edit's own answer asks for nothing more."""
    yuki = await add_integration(sessionmaker, client_id, system="yuki")
    exact = await add_integration(sessionmaker, client_id, system="exact")
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="ED-4")).json()["id"]
    (first,) = await _outbox(sessionmaker, doc, "com.invoicesync.invoice.booked")

    edited = partner.patch(f"/v1/invoices/{doc}", json={"due_date": "2026-12-31"})
    assert edited.status_code == 200, edited.text
    warnings = " ".join(edited.json()["warnings"])
    assert "on its way to Exact Online" in warnings and "NOT pushed" in warnings
    assert "pushed to Yuki again" in warnings
    assert await _outbox(sessionmaker, doc, UPDATED) == []  # nothing new goes out yet

    applier = ResultApplier(sessionmaker)
    for system in ("yuki", "exact"):
        runtime, producer = _runtime(system, sessionmaker)
        await runtime.handle(first)
        (answer,) = producer.of_type(BOOKED)
        assert answer.data["revision"] == 0
        await applier.handle(answer)

    (update_request,) = await _outbox(sessionmaker, doc, UPDATED)
    assert [t["integration_id"] for t in update_request.data["targets"]] == [str(yuki)]
    assert update_request.data["document"]["revision"] == 1
    assert update_request.data["document"]["due_date"] == "2026-12-31"
    async with sessionmaker() as session:
        states = {
            s.integration_id: s.status
            for s in await session.scalars(
                select(DocumentSync).where(DocumentSync.document_id == uuid.UUID(doc))
            )
        }
    assert states == {yuki: "pending", exact: "booked"}

    runtime, producer = _runtime("yuki", sessionmaker)
    await runtime.handle(update_request)
    (answer,) = producer.of_type(BOOKED)
    assert answer.data["revision"] == 1
    await applier.handle(answer)
    assert len(await _outbox(sessionmaker, doc, UPDATED)) == 1
    shown = partner.get(f"/v1/invoices/{doc}").json()
    assert {s["system"]: s["status"] for s in shown["sync"]} == {
        "yuki": "booked",
        "exact": "booked",
    }


async def test_an_edit_while_disconnected_warns_of_no_request_on_its_way(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Pending because the connection is broken: no request is out, the document goes out
    as it is on reconnect, so nothing is said."""
    await add_integration(sessionmaker, client_id, system="exact", status="needs_reauthorization")
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="ED-5")).json()["id"]
    edited = partner.patch(f"/v1/invoices/{doc}", json={"due_date": "2026-12-31"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["warnings"] == []


async def test_an_edit_of_a_purchase_document_on_its_way_to_yuki_is_not_pushed_after_it(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Yuki keeps a purchase document's upload as it came: the answer says the edit is not
    pushed, and the upload's answer asks for nothing more."""
    await add_integration(sessionmaker, client_id, system="yuki")
    doc = partner.post("/v1/purchase-invoices", json=purchase(client_id, "AP-ED-1")).json()["id"]
    (first,) = await _outbox(sessionmaker, doc, "com.invoicesync.purchase_invoice.booked")
    edited = partner.patch(f"/v1/purchase-invoices/{doc}", json={"due_date": "2027-01-05"})
    assert edited.status_code == 200, edited.text
    warnings = " ".join(edited.json()["warnings"])
    assert "on its way to Yuki's archive" in warnings and "NOT pushed" in warnings

    runtime, producer = _runtime("yuki", sessionmaker, kinds=PURCHASE_KINDS)
    await runtime.handle(first)
    (answer,) = producer.of_type(BOOKED)
    assert answer.data["revision"] == 0
    await ResultApplier(sessionmaker).handle(answer)
    assert await _outbox(sessionmaker, doc, UPDATED) == []
    shown = partner.get(f"/v1/purchase-invoices/{doc}").json()
    assert [s["status"] for s in shown["sync"]] == ["booked"]


@pytest.mark.parametrize("numbered_before", [False, True])
async def test_an_edit_committed_while_the_answer_is_applied_still_reaches_yuki(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    numbered_before: bool,
) -> None:
    """The edit holds the document while the first version's answer is applied: the answer
    waits for it and then asks for the edit, which would otherwise be lost (the edit saw the
    state still pending and left the push to the answer). Whether or not the answer changes
    the document itself (its first booking number, or one it had from elsewhere)."""
    yuki = await add_integration(sessionmaker, client_id, system="yuki")
    doc = partner.post("/v1/invoices", json=invoice(client_id, number=f"ED-7{numbered_before}"))
    doc = doc.json()["id"]
    if numbered_before:
        async with sessionmaker.begin() as session:
            await session.execute(
                update(Document)
                .where(Document.id == uuid.UUID(doc))
                .values(has_booking_number=True)
            )
    (first,) = await _outbox(sessionmaker, doc, "com.invoicesync.invoice.booked")
    runtime, producer = _runtime("yuki", sessionmaker)
    await runtime.handle(first)
    (answer,) = producer.of_type(BOOKED)

    async with sessionmaker.begin() as session:  # an edit, as PATCH makes it, not yet committed
        edited = await session.get(Document, uuid.UUID(doc), with_for_update=True)
        assert edited is not None
        edited.revision += 1
        await session.flush()
        applying = asyncio.create_task(ResultApplier(sessionmaker).handle(answer))
        await until_it_waits_on_a_lock(sessionmaker, applying, "%documents%", BOUND)
    await asyncio.wait_for(applying, BOUND)

    (update_request,) = await _outbox(sessionmaker, doc, UPDATED)
    assert [t["integration_id"] for t in update_request.data["targets"]] == [str(yuki)]
    assert update_request.data["document"]["revision"] == 1


async def test_an_edit_that_ran_out_of_retries_is_replayed_as_an_edit(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Booked in Yuki, edited, and the edit's retries ran out (dead-lettered). Replaying the
    dead letters asks Yuki for the edit again (DocumentUpdated), never for a new booking of
    a document that is already in its books: that would book it twice."""
    from invoicesync_shared.events.results import SyncFailed

    yuki = await add_integration(sessionmaker, client_id, system="yuki")
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="ED-DLQ")).json()["id"]
    await booked_everywhere(sessionmaker, doc, "000009", remote_id="r-9")
    edited = partner.patch(f"/v1/invoices/{doc}", json={"due_date": "2026-12-31"})
    assert edited.status_code == 200, edited.text
    failed = SyncFailed(
        document_id=uuid.UUID(doc),
        integration_id=yuki,
        code="unavailable",
        message="Yuki was not reachable.",
        retryable=True,
        dead_lettered=True,
    )
    await ResultApplier(sessionmaker).handle(
        Envelope.wrap(failed, source="/tests", subject=doc, key="k")
    )
    listed = [d["document_id"] for d in partner.get("/v1/dead-letters").json()]
    assert doc in listed

    replayed = partner.post("/v1/dead-letters/replay", json={"integration_id": str(yuki)})

    assert replayed.status_code == 202, replayed.text
    assert replayed.json() == {"documents": 1, "deliveries": 1}
    assert (await event_types(sessionmaker, doc))[-2:] == [UPDATED, UPDATED]
    [first, again] = await _outbox(sessionmaker, doc, UPDATED)
    assert again.data["targets"] == first.data["targets"]
    assert again.data["document"]["revision"] == 1
