"""Rows and events the tests need, built the way the API builds them."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Client, Document, Partner
from invoicesync_api.documents import files
from invoicesync_shared.db.models import DocumentFile, Integration
from invoicesync_shared.events.documents import (
    BOOKED_EVENTS,
    CustomerData,
    DocumentFileRef,
    DocumentLine,
    DocumentSnapshot,
    SyncTarget,
)
from invoicesync_shared.events.envelope import Envelope


async def make_client(
    sessionmaker: async_sessionmaker[AsyncSession], name: str = "Client"
) -> Client:
    async with sessionmaker.begin() as session:
        partner = Partner(id=uuid.uuid4(), name=f"partner of {name}")
        session.add(partner)
        await session.flush()
        client = Client(id=uuid.uuid4(), partner_id=partner.id, name=name, country="NL")
        session.add(client)
    return client


async def make_integration(
    sessionmaker: async_sessionmaker[AsyncSession],
    client: Client,
    *,
    system: str = "exact",
    settings: dict[str, object] | None = None,
    credentials: bytes | None = None,
) -> Integration:
    async with sessionmaker.begin() as session:
        integration = Integration(
            id=uuid.uuid4(),
            partner_id=client.partner_id,
            client_id=client.id,
            system=system,
            status="active",
            activated_at=datetime.now(UTC),
            settings=settings or {},
            credentials=credentials,
        )
        session.add(integration)
    return integration


def snapshot(
    client: Client, number: str, *, customer: str = "cust-1", kind: str = "invoice"
) -> DocumentSnapshot:
    line = DocumentLine(
        description="Work",
        quantity=Decimal("1"),
        unit_price=Decimal("100.00"),
        vat_rate=Decimal("21"),
        net_amount=Decimal("100.00"),
        vat_amount=Decimal("21.00"),
    )
    return DocumentSnapshot(
        id=uuid.uuid4(),
        partner_id=client.partner_id,
        client_id=client.id,
        kind=kind,
        external_id=f"ext-{number}",
        number=number,
        issue_date=date(2026, 11, 20),
        currency="EUR",
        customer=CustomerData(external_id=customer, name=f"Customer {customer}", country="NL"),
        lines=[line],
        net_total=Decimal("100.00"),
        vat_total=Decimal("21.00"),
        gross_total=Decimal("121.00"),
    )


def booked_event(
    document: DocumentSnapshot, integration: Integration, generation: int = 0
) -> Envelope:
    event = BOOKED_EVENTS[document.kind](
        document=document,
        targets=[
            SyncTarget(
                integration_id=integration.id, system=integration.system, generation=generation
            )
        ],
    )
    return Envelope.wrap(
        event, source="/tests", subject=str(document.id), key=str(document.client_id)
    )


async def with_stored_file(
    sessionmaker: async_sessionmaker[AsyncSession],
    document: DocumentSnapshot,
    content: bytes = b"%PDF-1.4 test file\n%%EOF",
    filename: str = "scan.pdf",
) -> DocumentSnapshot:
    """``document`` stored as the API stores a purchase document with its file (the file
    row needs its document; the file checked by the API's own check), returned with the
    file's reference as its event carries it."""
    checked = files.check(filename, "application/pdf", content, max_bytes=len(content))
    ref = DocumentFileRef.model_validate(checked.ref())
    async with sessionmaker.begin() as session:
        session.add(
            Document(
                id=document.id,
                partner_id=document.partner_id,
                client_id=document.client_id,
                kind=document.kind,
                external_id=document.external_id,
                number=document.number,
                status="booked",
                issue_date=document.issue_date,
                currency=document.currency,
                customer=document.customer.model_dump(mode="json"),
                lines=[],
                net_total=document.net_total,
                vat_total=document.vat_total,
                gross_total=document.gross_total,
            )
        )
        await session.flush()
        session.add(
            DocumentFile(
                id=checked.id,
                document_id=document.id,
                filename=checked.filename,
                content_type=checked.content_type,
                size=checked.size,
                sha256=checked.sha256,
                content=checked.content,
            )
        )
    return document.model_copy(update={"file": ref})
