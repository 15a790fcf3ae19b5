"""A booking number is a duplicate only within its series (sync/numbering.py): sales
documents among sales documents, a purchase document's supplier number among that
supplier's documents. Suppliers' own invoice numbers collide (Lexware books them as the
voucher number), and a sales and a purchase entry of one number are two journals'."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import DocumentSync, Notification
from invoicesync_api.sync.results import apply
from tests.integration.api.conftest import add_integration, invoice
from tests.integration.api.test_purchase_documents import purchase
from tests.integration.api.test_sync_runs import booked


def bought(partner: httpx.Client, client_id: str, number: str, supplier: str) -> str:
    body = purchase(
        client_id,
        number,
        supplier={"external_id": supplier, "name": f"Supplier {supplier}", "country": "DE"},
    )
    response = partner.post("/v1/purchase-invoices", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def sold(partner: httpx.Client, client_id: str, number: str) -> str:
    response = partner.post("/v1/invoices", json=invoice(client_id, number=number))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def book_both(
    sessionmaker: async_sessionmaker[AsyncSession],
    integration: uuid.UUID,
    documents: tuple[str, str],
    number: str,
) -> tuple[dict[uuid.UUID, uuid.UUID | None], int]:
    """Both documents given ``number``, one after the other: their ``duplicate_of`` and
    how many duplicate notifications were made."""
    for document in documents:
        async with sessionmaker.begin() as session:
            await apply(session, booked(document, integration, None, number))
    async with sessionmaker() as session:
        rows = await session.execute(
            select(DocumentSync.document_id, DocumentSync.duplicate_of).where(
                DocumentSync.integration_id == integration
            )
        )
        notices = await session.scalars(
            select(Notification.id).where(
                Notification.params["integration_id"].astext == str(integration),
                Notification.kind == "duplicate_booking_number",
            )
        )
        return {d: of for d, of in rows}, len(notices.all())


def both_flagged(documents: tuple[str, str]) -> dict[uuid.UUID, uuid.UUID | None]:
    first, second = (uuid.UUID(d) for d in documents)
    return {first: second, second: first}


def none_flagged(documents: tuple[str, str]) -> dict[uuid.UUID, uuid.UUID | None]:
    return {uuid.UUID(d): None for d in documents}


async def test_two_suppliers_invoice_numbers_are_no_duplicate(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration = await add_integration(sessionmaker, client_id, system="lexware")
    documents = (
        bought(partner, client_id, "1001", "supplier-a"),
        bought(partner, client_id, "1001", "supplier-b"),
    )
    flagged, notices = await book_both(sessionmaker, integration, documents, "1001")
    assert (flagged, notices) == (none_flagged(documents), 0)


@pytest.mark.parametrize("sale_first", [True, False], ids=["sale-first", "purchase-first"])
@pytest.mark.parametrize("system", ["exact", "lexware", "yuki"])
async def test_a_sales_and_a_purchase_entry_of_one_number_are_no_duplicate(
    system: str,
    sale_first: bool,
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Either side's number arriving second looks in its own series only."""
    integration = await add_integration(sessionmaker, client_id, system=system)
    sale, bill = sold(partner, client_id, "S-1"), bought(partner, client_id, "P-1", "supplier-a")
    documents = (sale, bill) if sale_first else (bill, sale)
    flagged, notices = await book_both(sessionmaker, integration, documents, "1")
    assert (flagged, notices) == (none_flagged(documents), 0)


@pytest.mark.parametrize("system", ["lexware", "yuki"])
async def test_one_supplier_number_given_to_two_of_its_documents_is_a_duplicate(
    system: str,
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    integration = await add_integration(sessionmaker, client_id, system=system)
    documents = (
        bought(partner, client_id, "AP-1", "supplier-a"),
        bought(partner, client_id, "AP-2", "supplier-a"),
    )
    flagged, notices = await book_both(sessionmaker, integration, documents, "1001")
    assert (flagged, notices) == (both_flagged(documents), 1)


async def test_an_exact_purchase_journal_number_is_one_series_across_suppliers(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Exact numbers purchase entries "last + 1" in the purchase journal, not by
    supplier: a number there given twice is a deleted entry's, whoever the suppliers."""
    integration = await add_integration(sessionmaker, client_id, system="exact")
    documents = (
        bought(partner, client_id, "AP-1", "supplier-a"),
        bought(partner, client_id, "AP-1", "supplier-b"),
    )
    flagged, notices = await book_both(sessionmaker, integration, documents, "26900031")
    assert (flagged, notices) == (both_flagged(documents), 1)


async def test_one_sales_number_given_to_two_sales_documents_is_a_duplicate(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration = await add_integration(sessionmaker, client_id, system="lexware")
    documents = (sold(partner, client_id, "S-1"), sold(partner, client_id, "S-2"))
    flagged, notices = await book_both(sessionmaker, integration, documents, "RE-1")
    assert (flagged, notices) == (both_flagged(documents), 1)
