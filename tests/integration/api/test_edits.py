"""PATCH after a sync: Yuki gets the edit again (with the cost-centre warning); Exact and
Lexware keep what they have, and the answer says so."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import DocumentSync
from invoicesync_api.integrations import connection
from invoicesync_shared.db.models import Integration, OutboxMessage
from tests.integration.api.conftest import add_integration, invoice


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


async def test_edit_of_synced_document_per_system(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    yuki = await add_integration(sessionmaker, client_id, system="yuki")
    await add_integration(sessionmaker, client_id, system="exact")
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="ED-1")).json()["id"]
    async with sessionmaker.begin() as session:
        await session.execute(
            update(DocumentSync)
            .where(DocumentSync.document_id == uuid.UUID(doc))
            .values(status="booked", booking_number="000001")
        )
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
    async with sessionmaker.begin() as session:
        await session.execute(
            update(DocumentSync)
            .where(DocumentSync.document_id == uuid.UUID(doc))
            .values(status="booked", booking_number="000003", remote_id="r-3")
        )
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
