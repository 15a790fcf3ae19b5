"""Helpers for driving the Yuki connector against the sandbox: an administration with its
integration row and runtime, and documents to push (tests and bench/)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connector_yuki.connector import YukiConnector
from connector_yuki.settings import YukiConnectorSettings
from invoicesync_api.db.models import Client, Partner
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.documents import (
    CustomerData,
    DocumentLine,
    DocumentSnapshot,
    DocumentSyncRequested,
    DocumentUpdated,
    InvoiceBooked,
    SyncTarget,
)
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.events.integrations import IntegrationConnectionLost
from invoicesync_shared.events.results import BookingAssigned, SyncFailed
from invoicesync_shared.integration_settings import YukiSettings
from tests.support.producers import RecordingProducer

SOAP_TIMEOUT = 1.5  # below the sandbox's fault_hang_seconds (3 s): a lost response times out
SETTLE = 0.2  # the runtime's settle time: the sandbox shows a write at once unless delayed


@dataclass
class Yuki:
    """One fresh administration, its integration row and a runtime over the connector."""

    url: str
    access_key: str
    administration_id: str
    integration: Integration
    connector: YukiConnector
    runtime: ConnectorRuntime[YukiSettings]
    producer: RecordingProducer

    @property
    def control(self) -> str:
        return f"{self.url}{self.control_path}"

    @property
    def control_path(self) -> str:
        return f"/_sandbox/yuki/administrations/{self.administration_id}"

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with httpx.AsyncClient() as http:
            response = await http.post(f"{self.url}{path}", json=body)
        assert response.status_code < 300, response.text
        return dict(response.json())

    async def state(self) -> dict[str, Any]:
        async with httpx.AsyncClient() as http:
            return dict((await http.get(self.control)).json())

    async def stats(self) -> dict[str, Any]:
        async with httpx.AsyncClient() as http:
            return dict((await http.get(f"{self.url}/_sandbox/yuki/stats")).json())

    async def reset_stats(self) -> None:
        async with httpx.AsyncClient() as http:
            await http.delete(f"{self.url}/_sandbox/yuki/stats")

    async def sync(self, *documents: DocumentSnapshot, updated: bool = False) -> None:
        """Hand every document to the runtime at once, as a busy consumer does."""
        kind: type[DocumentSyncRequested] = DocumentUpdated if updated else InvoiceBooked
        target = SyncTarget(integration_id=self.integration.id, system="yuki")
        await asyncio.gather(
            *(
                self.runtime.handle(
                    Envelope.wrap(
                        kind(document=d, targets=[target]),
                        source="/tests",
                        subject=str(d.id),
                        key=str(d.client_id),
                    )
                )
                for d in documents
            )
        )

    def booked(self) -> dict[str, dict[str, Any]]:
        return {e.subject: e.data for e in self.producer.of_type(BookingAssigned.TYPE)}

    def failed(self) -> dict[str, dict[str, Any]]:
        return {e.subject: e.data for e in self.producer.of_type(SyncFailed.TYPE)}

    def lost(self) -> list[dict[str, Any]]:
        """The connection losses reported for the API to announce."""
        return [e.data for e in self.producer.of_type(IntegrationConnectionLost.TYPE)]


def settings_for(url: str, encryption_key: str) -> YukiConnectorSettings:
    return YukiConnectorSettings(
        encryption_keys=SecretStr(encryption_key),
        yuki_base_url=f"{url}/yuki",
        yuki_timeout_seconds=SOAP_TIMEOUT,
        yuki_batch_window_seconds=0.5,
        yuki_batch_pause_seconds=0.2,
        yuki_batch_max_size=200,
    )


async def add_integration(
    sessionmaker: async_sessionmaker[AsyncSession],
    secret_box: SecretBox,
    access_key: str,
    administration_id: str,
) -> Integration:
    async with sessionmaker.begin() as session:
        partner = Partner(name="Accountants BV")
        session.add(partner)
        await session.flush()
        client = Client(partner_id=partner.id, name="Client BV")
        session.add(client)
        await session.flush()
        integration = Integration(
            partner_id=partner.id,
            client_id=client.id,
            system="yuki",
            status="active",
            settings={"administration_id": administration_id, "default_gl_account": "8100"},
            credentials=secret_box.encrypt_json({"access_key": access_key}),
        )
        session.add(integration)
    return integration


async def verify(connector: YukiConnector, integration: Integration) -> dict[str, Any]:
    """The connector's check of ``integration``, its settings read as the runtime does."""
    return await connector.verify(integration, YukiSettings.stored(integration.settings))


def document(
    integration: Integration,
    number: str,
    *,
    day: date = date(2024, 3, 1),
    price: str = "100.00",
    customer: CustomerData | None = None,
    revision: int = 0,
    document_id: uuid.UUID | None = None,
) -> DocumentSnapshot:
    net = Decimal(price) * 2
    vat = (net * Decimal("0.21")).quantize(Decimal("0.01"))
    return DocumentSnapshot(
        id=document_id or uuid.uuid4(),
        partner_id=integration.partner_id,
        client_id=integration.client_id,
        kind="invoice",
        external_id=f"ext-{number}",
        number=number,
        issue_date=day,
        due_date=None,
        currency="EUR",
        customer=customer or CustomerData(external_id="C001", name="Acme BV", country="NL"),
        lines=[
            DocumentLine(
                description="Consulting",
                quantity=Decimal(2),
                unit_price=Decimal(price),
                vat_rate=Decimal(21),
                net_amount=net,
                vat_amount=vat,
            )
        ],
        net_total=net,
        vat_total=vat,
        gross_total=net + vat,
        revision=revision,
    )
