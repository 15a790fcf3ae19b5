"""A Lexware organisation in the sandbox, connected through the real OAuth dance, with the
integration rows a connector reads, and a runtime over the connector under test."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connector_lexware.client import LexwareClient
from connector_lexware.connector import LexwareConnector
from connector_lexware.readback import LexwareReadBack
from invoicesync_api.db.models import Client, Partner
from invoicesync_shared.connectors.oauth import OAuthApp, TokenStore, token_fields
from invoicesync_shared.connectors.pacing import Pacer, PostgresPacer
from invoicesync_shared.connectors.rate_limit import TokenBucket
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.documents import (
    Address,
    CompanyData,
    CustomerData,
    DocumentLine,
    DocumentSnapshot,
    InvoiceBooked,
    SyncTarget,
)
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.integration_settings import LexwareSettings
from tests.support.http_counts import SentCounts, counted
from tests.support.oauth_codes import redeem
from tests.support.producers import RecordingProducer

CLIENT_ID, CLIENT_SECRET = "invoicesync-dev", "invoicesync-dev-secret"
REDIRECT_URI = "http://127.0.0.1:9/v1/oauth/callback"
SETTLE = 0.2  # the sandbox shows a write at once unless a fault delays it


def control(sandbox_url: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response = httpx.request(method, f"{sandbox_url}/_sandbox/lexware{path}", **kwargs)
    assert response.status_code < 300, response.text
    return dict(response.json()) if response.content else {}


def oauth_tokens(sandbox_url: str, organization_id: str) -> dict[str, Any]:
    """Authorise invoicesync's app for the organisation; the redirect is read, not followed."""
    authorize = httpx.get(
        f"{sandbox_url}/lexware/api/oauth2/authorize",
        params={
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "state": "s",
            "organization_id": organization_id,
        },
    )
    assert authorize.status_code == 302, authorize.text
    return redeem(
        authorize,
        f"{sandbox_url}/lexware/api/oauth2/token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT_URI,
    )


async def create_integration(
    sessionmaker: async_sessionmaker[AsyncSession], box: SecretBox, token: dict[str, Any]
) -> Integration:
    async with sessionmaker.begin() as session:
        partner = Partner(name="Kanzlei Test")
        session.add(partner)
        await session.flush()
        client = Client(partner_id=partner.id, name="Mandant GmbH", country="DE")
        session.add(client)
        await session.flush()
        integration = Integration(
            partner_id=partner.id,
            client_id=client.id,
            system="lexware",
            status="active",
            settings={},
            credentials=box.encrypt_json(
                {"access_token": token["access_token"], "refresh_token": token["refresh_token"]}
            ),
            **token_fields(token, datetime.now(UTC)),
        )
        session.add(integration)
    return integration


async def save_remote(
    sessionmaker: async_sessionmaker[AsyncSession],
    integration_id: uuid.UUID,
    remote: dict[str, Any],
) -> None:
    """What the API does with verify's answer."""
    async with sessionmaker.begin() as session:
        integration = await session.get(Integration, integration_id)
        assert integration is not None
        integration.settings = {**integration.settings, "remote": remote}


def booked(integration_id: uuid.UUID, document: DocumentSnapshot) -> Envelope:
    """The event the API's outbox would publish for ``document``."""
    event = InvoiceBooked(
        document=document, targets=[SyncTarget(integration_id=integration_id, system="lexware")]
    )
    return Envelope.wrap(
        event, source="/tests", subject=str(document.id), key=str(document.client_id)
    )


@dataclass
class World:
    """One connected organisation and everything needed to push to it."""

    sandbox_url: str
    organization_id: str
    integration: Integration
    client: LexwareClient
    connector: LexwareConnector
    runtime: ConnectorRuntime[LexwareSettings]
    producer: RecordingProducer
    poller: LexwareReadBack
    http: httpx.AsyncClient
    sent: SentCounts  # what ``http`` sent to Lexware (the token calls go elsewhere)

    def state(self) -> dict[str, Any]:
        return control(self.sandbox_url, "GET", f"/organizations/{self.organization_id}")

    def drafts(self) -> list[dict[str, Any]]:
        return [v for v in self.state()["vouchers"] if v["voucherStatus"] == "draft"]

    async def send(self, document: DocumentSnapshot) -> None:
        await self.runtime.handle(booked(self.integration.id, document))

    def results(self, event_type: str) -> list[dict[str, Any]]:
        return [e.data for e in self.producer.of_type(event_type)]


@dataclass
class Replica:
    """One connector process's worth of objects (its own HTTP client and pacer)."""

    http: httpx.AsyncClient
    client: LexwareClient
    connector: LexwareConnector
    runtime: ConnectorRuntime[LexwareSettings]
    producer: RecordingProducer
    sent: SentCounts


def replica(
    sandbox_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    box: SecretBox,
    *,
    profile_ttl: float = 300.0,
    local_pacing: bool = False,
    timeout: float = 2.0,
    settle: float = SETTLE,
) -> Replica:
    app = OAuthApp(f"{sandbox_url}/lexware/api/oauth2/token", CLIENT_ID, CLIENT_SECRET)
    pacer: Pacer = (
        TokenBucket(2.0)
        if local_pacing
        else PostgresPacer(sessionmaker, system="lexware", rate=2.0)
    )
    http = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=2.0))
    sent = counted(http)
    client = LexwareClient(
        http, TokenStore(sessionmaker, box, app), base_url=f"{sandbox_url}/lexware", pacer=pacer
    )
    connector = LexwareConnector(client, sessionmaker, profile_ttl=profile_ttl)
    producer = RecordingProducer()
    runtime = ConnectorRuntime(
        connector,
        sessionmaker=sessionmaker,
        producer=producer,
        retry=RetryPolicy(attempts=4, initial=0.05, maximum=0.5),
        settle=timedelta(seconds=settle),
    )
    return Replica(http, client, connector, runtime, producer, sent)


async def connect(
    sandbox_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    box: SecretBox,
    *,
    profile_ttl: float = 300.0,
    **org: Any,
) -> World:
    """A new organisation, connected through OAuth, with one replica to push to it."""
    created = control(sandbox_url, "POST", "/organizations", json={"company_name": "Org", **org})
    organization_id = created["organization_id"]
    integration = await create_integration(
        sessionmaker, box, oauth_tokens(sandbox_url, organization_id)
    )
    one = replica(sandbox_url, sessionmaker, box, profile_ttl=profile_ttl)
    poller = LexwareReadBack(one.client, sessionmaker, one.producer, interval=60.0)
    return World(
        sandbox_url,
        organization_id,
        integration,
        one.client,
        one.connector,
        one.runtime,
        one.producer,
        poller,
        one.http,
        one.sent,
    )


async def verify(world: World, sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    remote = await world.runtime.verify(world.integration.id)
    await save_remote(sessionmaker, world.integration.id, dict(remote))
    return dict(remote)


def company() -> CompanyData:
    return CompanyData(
        name="Mandant GmbH",
        vat_number="DE811111111",
        address=Address(street="Hauptstraße", house_number="1", postal_code="10115", city="Berlin"),
        country="DE",
    )


def customer(**overrides: Any) -> CustomerData:
    values: dict[str, Any] = {
        "external_id": "cust-1",
        "name": "Kunde AG",
        "vat_number": "DE999999999",
        "email": "buchhaltung@kunde.example",
        "address": Address(
            street="Marktplatz", house_number="5", postal_code="80331", city="München", country="DE"
        ),
        "country": "DE",
    }
    return CustomerData(**{**values, **overrides})


def document(
    client_id: uuid.UUID,
    number: str,
    *,
    kind: str = "invoice",
    credit_note_for: uuid.UUID | None = None,
    **overrides: Any,
) -> DocumentSnapshot:
    line = DocumentLine(
        description="Beratung",
        quantity=Decimal(2),
        unit_price=Decimal("50.00"),
        vat_rate=Decimal(19),
        net_amount=Decimal("100.00"),
        vat_amount=Decimal("19.00"),
    )
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "partner_id": uuid.uuid4(),
        "client_id": client_id,
        "kind": kind,
        "external_id": f"ext-{number}",
        "number": number,
        "issue_date": date(2026, 11, 20),
        "due_date": date(2026, 12, 4),
        "currency": "EUR",
        "customer": customer(),
        "lines": [line],
        "net_total": Decimal("100.00"),
        "vat_total": Decimal("19.00"),
        "gross_total": Decimal("119.00"),
        "credit_note_for": credit_note_for,
        "company": company(),
    }
    return DocumentSnapshot(**{**values, **overrides})
