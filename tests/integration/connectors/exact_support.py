"""An Exact division in the sandbox, connected through the real OAuth dance, with the
integration rows a connector reads, and replicas of the connector under test."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connector_exact.client import ExactClient
from connector_exact.connector import ExactConnector
from connector_exact.readback import ExactReadBack
from invoicesync_api.db.models import Client
from invoicesync_sandbox.clock import Clock
from invoicesync_shared.connectors.error_brake import ErrorBrake
from invoicesync_shared.connectors.oauth import OAuthApp, TokenStore, token_fields
from invoicesync_shared.connectors.rate_limit import WindowBudget
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.documents import DocumentLine, DocumentSnapshot
from invoicesync_shared.integration_settings import ExactSettings
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.http_counts import SentCounts, counted
from tests.support.oauth_codes import redeem
from tests.support.producers import RecordingProducer
from tests.support.token_refreshes import TokenRefreshes

CLIENT_ID, CLIENT_SECRET = "invoicesync-dev", "invoicesync-dev-secret"
REDIRECT_URI = "http://127.0.0.1:9/v1/oauth/callback"
SETTLE = 0.2  # the sandbox shows a write at once unless a fault delays it
Sessions = async_sessionmaker[AsyncSession]


def control(sandbox_url: str, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, f"{sandbox_url}/_sandbox{path}", timeout=30, **kwargs)
    assert response.status_code < 300, response.text
    return response.json() if response.content else {}


def arm_fault(sandbox_url: str, path_pattern: str, kind: str, count: int = 1) -> None:
    """The sandbox answers the next ``count`` POSTs to Exact's ``path_pattern`` with the
    fault ``kind`` (a lost answer, a 429, a 500)."""
    control(
        sandbox_url,
        "POST",
        "/faults",
        json={
            "system": "exact",
            "path_pattern": path_pattern,
            "kind": kind,
            "count": count,
            "method": "POST",
        },
    )


def oauth_tokens(
    sandbox_url: str,
    *,
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
    redirect_uri: str = REDIRECT_URI,
) -> dict[str, Any]:
    """Authorise an app (invoicesync's unless told); the redirect is read, not followed."""
    authorize = httpx.get(
        f"{sandbox_url}/exact/api/oauth2/auth",
        params={
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "state": "s",
        },
    )
    assert authorize.status_code == 302, authorize.text
    return redeem(
        authorize,
        f"{sandbox_url}/exact/api/oauth2/token",
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=redirect_uri,
    )


class SandboxTimeBudget(WindowBudget):
    """The budget for a sandbox whose clock runs ``scale`` times faster than the wall:
    its resets (sandbox epoch) are translated to wall-clock time. Real Exact never needs it."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(reserve=1)
        self._clock = clock

    def observe(self, scope: str, *, remaining: int, reset_at: float) -> None:
        wall = time.time() + (reset_at - self._clock.now()) / self._clock.scale
        super().observe(scope, remaining=remaining, reset_at=wall)


@dataclass
class Replica:
    """One connector process's worth of objects (its own HTTP client and token store)."""

    http: httpx.AsyncClient
    tokens: TokenStore
    client: ExactClient
    runtime: ConnectorRuntime[ExactSettings]
    producer: RecordingProducer
    readback: ExactReadBack
    sent: SentCounts  # what ``http`` sent to Exact (the token calls go elsewhere)


def replica(
    sandbox_url: str,
    sessionmaker: Sessions,
    box: SecretBox,
    *,
    timeout: float = 2.0,
    budget: WindowBudget | None = None,
    error_allowance: int = 8,
    settle: float = SETTLE,
) -> Replica:
    app = OAuthApp(f"{sandbox_url}/exact/api/oauth2/token", CLIENT_ID, CLIENT_SECRET)
    http = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=2.0))
    sent = counted(http)
    tokens = TokenStore(sessionmaker, box, app)
    brake = ErrorBrake(sessionmaker, system="exact", allowance=error_allowance)
    client = ExactClient(http, tokens, base_url=f"{sandbox_url}/exact", brake=brake, budget=budget)
    producer = RecordingProducer()
    runtime = ConnectorRuntime(
        ExactConnector(client),
        sessionmaker=sessionmaker,
        producer=producer,
        retry=RetryPolicy(attempts=4, initial=0.05, maximum=0.5),
        settle=timedelta(seconds=settle),
    )
    readback = ExactReadBack(client, sessionmaker, producer, interval=3600.0)
    return Replica(http, tokens, client, runtime, producer, readback, sent)


@dataclass
class World:
    """One connected division and a replica pushing to it."""

    sandbox_url: str
    division: dict[str, Any]
    client: Client
    integration: Integration
    token: dict[str, Any]
    one: Replica
    others: list[Replica] = field(default_factory=list)
    # Tokens refreshed by any replica since the world was connected.
    refreshes: TokenRefreshes = field(default_factory=TokenRefreshes)

    @property
    def code(self) -> int:
        return int(self.division["division"])

    def state(self) -> dict[str, Any]:
        return dict(control(self.sandbox_url, "GET", f"/exact/divisions/{self.code}"))

    def entries(self) -> list[dict[str, Any]]:
        return list(self.state()["entries"])

    async def send(self, document: DocumentSnapshot, via: Replica | None = None) -> None:
        await (via or self.one).runtime.handle(booked_event(document, self.integration))

    def results(self, event_type: str) -> list[dict[str, Any]]:
        return [
            e.data
            for e in self.one.producer.of_type(event_type)
            if e.data["integration_id"] == str(self.integration.id)
        ]

    def document(self, number: str, **update: Any) -> DocumentSnapshot:
        return snapshot(self.client, number).model_copy(update=update)

    async def close(self, sessionmaker: Sessions) -> None:
        """Deactivate, so later read-back rounds of other tests leave this division alone."""
        async with sessionmaker.begin() as session:
            found = await session.get(Integration, self.integration.id)
            assert found is not None
            found.status = "deactivated"
        for one in [self.one, *self.others]:
            await one.http.aclose()


async def connected_integration(
    sandbox_url: str,
    sessionmaker: Sessions,
    box: SecretBox,
    client: Client,
    *,
    settings: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any], Integration]:
    """For ``client``: a new division and an Exact integration with its journals, holding
    tokens from the OAuth dance (the division, the token answer and the integration)."""
    division = control(sandbox_url, "POST", "/exact/divisions", json={})
    token = oauth_tokens(sandbox_url)
    integration = await make_integration(
        sessionmaker,
        client,
        settings={
            "division": division["division"],
            "sales_journal": division["sales_journal"],
            "credit_note_journal": division["credit_note_journal"],
            "start_date": "2026-01-01",
            **(settings or {}),
        },
        credentials=box.encrypt_json(
            {"access_token": token["access_token"], "refresh_token": token["refresh_token"]}
        ),
    )
    async with sessionmaker.begin() as session:
        stored = await session.get(Integration, integration.id)
        assert stored is not None
        for column, value in token_fields(token, datetime.now(UTC)).items():
            setattr(stored, column, value)
    return dict(division), token, integration


async def connect(
    sandbox_url: str,
    sessionmaker: Sessions,
    box: SecretBox,
    *,
    settings: dict[str, Any] | None = None,
    budget: WindowBudget | None = None,
) -> World:
    """A new division, an integration holding tokens from the OAuth dance, one replica."""
    client = await make_client(sessionmaker, "Exact client")
    division, token, integration = await connected_integration(
        sandbox_url, sessionmaker, box, client, settings=settings
    )
    one = replica(sandbox_url, sessionmaker, box, budget=budget)
    return World(sandbox_url, division, client, integration, token, one)


def odd_vat_line() -> DocumentLine:
    """A 7 % line: no Dutch VAT code has that rate."""
    return DocumentLine(
        description="Odd rate",
        quantity=Decimal("1"),
        unit_price=Decimal("100.00"),
        vat_rate=Decimal("7"),
        net_amount=Decimal("100.00"),
        vat_amount=Decimal("7.00"),
    )


BEFORE_START = date(2025, 12, 15)
