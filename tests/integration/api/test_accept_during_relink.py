"""A document accepted while its integration is relinked or deactivated is not lost to it.

The accept path reads the client's integrations, then writes the document: a relink that
commits in between must not leave the document with no sync row (no run saw it, no row
asks for it). Here the relink's transaction holds the row, as ``integrations.repository.lock``
does, while a POST is in flight; the POST waits for it and takes the new status.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import DocumentSync
from invoicesync_shared.db.models import Integration
from tests.integration.api.conftest import add_integration, invoice
from tests.support.locks import until_it_waits_on_a_lock

BOUND = 20.0  # seconds: a failure shows as a timeout, not a hang


async def while_changing(
    sessionmaker: async_sessionmaker[AsyncSession],
    integration: uuid.UUID,
    status: str,
    post: Callable[[], httpx.Response],
) -> httpx.Response:
    """``post`` runs while a transaction has locked ``integration`` and set ``status``;
    the transaction commits once the POST waits for it (or is through without waiting)."""
    async with sessionmaker.begin() as session:
        row = await session.get(Integration, integration, with_for_update=True)
        assert row is not None
        await session.execute(
            update(Integration).where(Integration.id == integration).values(status=status)
        )
        posting = asyncio.create_task(asyncio.to_thread(post))
        await until_it_waits_on_a_lock(sessionmaker, posting, "%FOR KEY SHARE%", BOUND)
    return await asyncio.wait_for(posting, BOUND)


async def sync_rows(
    sessionmaker: async_sessionmaker[AsyncSession], document_id: str
) -> dict[uuid.UUID, str]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(DocumentSync.integration_id, DocumentSync.status).where(
                DocumentSync.document_id == uuid.UUID(document_id)
            )
        )
        return {integration_id: status for integration_id, status in rows}


async def test_a_document_accepted_during_a_relink_is_synced_there(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration = await add_integration(sessionmaker, client_id, status="deactivated")

    def post() -> httpx.Response:
        return partner.post("/v1/invoices", json=invoice(client_id, number="RELINK-1"))

    created = await while_changing(sessionmaker, integration, "active", post)
    assert created.status_code == 201, created.text
    assert [s["integration_id"] for s in created.json()["sync"]] == [str(integration)]
    assert await sync_rows(sessionmaker, created.json()["id"]) == {integration: "pending"}


async def test_a_keyed_document_read_again_after_a_relink_keeps_its_claim(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The relink makes the write find the integrations changed, so the accept path reads
    again: that read must not claim the key a second time (it is this request's already),
    and the answer stored under the key is the one sent."""
    integration = await add_integration(sessionmaker, client_id, status="deactivated")
    key = {"Idempotency-Key": f"relink-{uuid.uuid4()}"}
    body = invoice(client_id, number="RELINK-KEYED")

    def post() -> httpx.Response:
        return partner.post("/v1/invoices", json=body, headers=key)

    created = await while_changing(sessionmaker, integration, "active", post)
    assert created.status_code == 201, created.text
    assert await sync_rows(sessionmaker, created.json()["id"]) == {integration: "pending"}
    again = partner.post("/v1/invoices", json=body, headers=key)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == created.json()


async def test_a_document_accepted_during_a_deactivation_is_not_sent_there(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration = await add_integration(sessionmaker, client_id)

    def post() -> httpx.Response:
        return partner.post("/v1/invoices", json=invoice(client_id, number="DEACT-1"))

    created = await while_changing(sessionmaker, integration, "deactivated", post)
    assert created.status_code == 201, created.text
    assert created.json()["sync"] == []
    assert await sync_rows(sessionmaker, created.json()["id"]) == {}


async def test_a_draft_booked_during_a_relink_is_synced_there(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration = await add_integration(sessionmaker, client_id, status="deactivated")
    draft = partner.post(
        "/v1/invoices", json=invoice(client_id, number="RELINK-2", status="draft")
    ).json()["id"]

    def book() -> httpx.Response:
        return partner.post(f"/v1/invoices/{draft}/book")

    booked = await while_changing(sessionmaker, integration, "active", book)
    assert booked.status_code == 200, booked.text
    assert await sync_rows(sessionmaker, draft) == {integration: "pending"}


async def test_a_refused_repair_changes_nothing(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """No connector answers here, so the relink step is refused: the integration stays
    active and no document loses its sync state (before, it was left deactivated)."""
    integration = await add_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="REP-1")).json()["id"]
    async with sessionmaker.begin() as session:
        await session.execute(
            update(DocumentSync)
            .where(DocumentSync.document_id == uuid.UUID(doc))
            .values(status="booked", booking_number="26100001", generation=3)
        )

    refused = partner.post(
        f"/v1/integrations/{integration}/repair", json={"from_date": "2026-01-01"}
    )
    assert refused.status_code == 422, refused.text
    assert "nothing was changed" in refused.json()["detail"]
    state: dict[str, Any] = partner.get(f"/v1/integrations/{integration}").json()
    assert state["status"] == "active"
    async with sessionmaker() as session:
        row = await session.get(DocumentSync, (uuid.UUID(doc), integration))
        assert row is not None
        assert (row.status, row.booking_number, row.generation) == ("booked", "26100001", 3)


async def test_a_deadlock_answers_503_and_writes_nothing(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """An edit (document, then its sync rows) meets a transaction that holds the sync row
    and then wants the document: PostgreSQL breaks the deadlock by failing the edit, which
    answers 503 with Retry-After (not 500) and leaves the document as it was."""
    integration = await add_integration(sessionmaker, client_id, system="yuki")
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="LOCK-1")).json()["id"]
    async with sessionmaker.begin() as session:  # booked in Yuki: an edit is sent again
        await session.execute(
            update(DocumentSync)
            .where(DocumentSync.document_id == uuid.UUID(doc))
            .values(status="booked", booking_number="Y-1")
        )
    edit = {"due_date": "2026-12-31"}

    def patch() -> httpx.Response:
        return partner.patch(f"/v1/invoices/{doc}", json=edit)

    async with sessionmaker.begin() as session:
        await session.execute(text("SET LOCAL deadlock_timeout = '60s'"))  # the edit's turn
        await session.get(DocumentSync, (uuid.UUID(doc), integration), with_for_update=True)
        patching = asyncio.create_task(asyncio.to_thread(patch))
        await until_it_waits_on_a_lock(
            sessionmaker, patching, "%FROM document_syncs%FOR UPDATE", BOUND
        )
        await session.execute(
            text("SELECT id FROM documents WHERE id = :id FOR UPDATE"), {"id": uuid.UUID(doc)}
        )
        answer = await asyncio.wait_for(patching, BOUND)
    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "busy"
    assert answer.headers["Retry-After"] == "1"
    assert partner.get(f"/v1/invoices/{doc}").json()["due_date"] != edit["due_date"]
