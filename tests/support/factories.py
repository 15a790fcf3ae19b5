"""Rows and events the tests need, built the way the API builds them."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Client, Partner
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.documents import (
    CustomerData,
    DocumentLine,
    DocumentSnapshot,
    InvoiceBooked,
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
    event = InvoiceBooked(
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
