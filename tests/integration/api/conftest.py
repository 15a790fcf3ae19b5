"""The API app over real HTTP on the test database; background workers off, so what the
API writes (documents, outbox rows) stays where the tests can read it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.routing import Route

from invoicesync_api.app import create_app
from invoicesync_api.db.models import Client
from invoicesync_api.settings import ApiSettings
from invoicesync_api.webhooks.models import WebhookEndpoint
from invoicesync_shared.db.models import Integration
from tests.support.servers import serve_in_thread
from tests.support.webhooks import Receiver

ADMIN_TOKEN = "adm_integration_tests"
EXACT_SETTINGS = {
    "division": 7,
    "sales_journal": "70",
    "credit_note_journal": "71",
    "start_date": "2026-01-01",
}
"""Settings an Exact integration is created with where the division does not matter."""
# The shared app's limits, out of reach of the tests that fire many requests (the fuzzer, the
# isolation matrix) or many wrong keys from 127.0.0.1; test_rate_limits sets its own.
HIGH_LIMITS: dict[str, Any] = {
    "rate_limit_per_minute": 10_000_000,
    "rate_limit_burst": 1_000_000,
    "auth_failures_per_minute": 10_000_000,
    "auth_failures_burst": 1_000_000,
}


@pytest.fixture(scope="module")
def api_url(database_url: str, encryption_key: str) -> Iterator[str]:
    settings = ApiSettings(
        database_url=SecretStr(database_url),
        encryption_keys=SecretStr(encryption_key),
        admin_token=SecretStr(ADMIN_TOKEN),
        run_workers=False,
        connector_exact_url="http://127.0.0.1:9",
        connector_lexware_url="http://127.0.0.1:9",
        connector_yuki_url="http://127.0.0.1:9",
        **HIGH_LIMITS,
    )
    with serve_in_thread(create_app(settings)) as url:
        yield url


def new_partner(api_url: str, name: str = "Partner") -> httpx.Client:
    response = httpx.post(
        f"{api_url}/admin/v1/partners",
        json={"name": name},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 201, response.text
    return httpx.Client(
        base_url=api_url,
        timeout=30,
        headers={"Authorization": f"Bearer {response.json()['api_key']}"},
    )


@pytest.fixture
def partner(api_url: str) -> Iterator[httpx.Client]:
    with new_partner(api_url, "Acme Accountants") as client:
        yield client


@pytest.fixture
def client_id(partner: httpx.Client) -> str:
    response = partner.post("/v1/clients", json={"name": "Bakkerij De Vries", "country": "NL"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def invoice(client_id: str, number: str = "2026-0001", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": client_id,
        "external_id": f"ext-{number}",
        "number": number,
        "status": "booked",
        "issue_date": "2026-11-20",
        "due_date": "2026-12-20",
        "currency": "EUR",
        "customer": {"external_id": "c1", "name": "Jansen BV", "country": "NL"},
        "lines": [
            {"description": "Work", "quantity": "3", "unit_price": "33.33", "vat_rate": "21"},
            {"description": "Parts", "quantity": "1", "unit_price": "10.00", "vat_rate": "9"},
        ],
    }
    body.update(overrides)
    return body


async def add_integration(
    sessionmaker: async_sessionmaker[AsyncSession],
    client_id: str,
    *,
    system: str = "exact",
    activated_at: datetime | None = None,
    status: str = "active",
    nightly: bool = False,
) -> uuid.UUID:
    """An integration row as a finished connection leaves it (active an hour ago)."""
    async with sessionmaker.begin() as session:
        client = await session.get(Client, uuid.UUID(client_id))
        assert client is not None
        row = Integration(
            id=uuid.uuid4(),
            partner_id=client.partner_id,
            client_id=client.id,
            system=system,
            status=status,
            activated_at=activated_at or datetime.now(UTC) - timedelta(hours=1),
            settings={
                "division": 1,
                "sales_journal": "70",
                "credit_note_journal": "70",
                "start_date": "2026-01-01",
            },
            nightly_sync=nightly,
            nightly_hour=2,
        )
        session.add(row)
    return row.id


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook endpoint on loopback that verifies signatures (its secret set by the test)."""
    state = Receiver()
    app = Starlette(routes=[Route("/hook", state.handle, methods=["POST"])])
    with serve_in_thread(app) as url:
        state.url = f"{url}/hook"
        yield state


def listed_ids(partner: httpx.Client, ids: list[str], **filters: str) -> set[str]:
    """Which of ``ids`` GET /v1/invoices lists under ``filters`` (one page of 200)."""
    params: dict[str, str | int] = {**filters, "limit": 200}
    listed = partner.get("/v1/invoices", params=params)
    assert listed.status_code == 200, listed.text
    return {d["id"] for d in listed.json()["data"]} & set(ids)


@contextlib.asynccontextmanager
async def quiet_webhook_endpoint(
    sessionmaker: async_sessionmaker[AsyncSession], client_id: str, events: list[str]
) -> AsyncIterator[uuid.UUID]:
    """A webhook endpoint of the client's partner for ``events``, with a URL nothing
    answers. Nothing is sent here: the deliveries queued are read, and they go with the
    endpoint afterwards (a later test's dispatcher must not find them)."""
    async with sessionmaker.begin() as session:
        client = await session.get(Client, uuid.UUID(client_id))
        assert client is not None
        row = WebhookEndpoint(
            id=uuid.uuid4(),
            partner_id=client.partner_id,
            url="https://hooks.example.com/quiet",
            events=events,
            secret=b"not used",
        )
        session.add(row)
    yield row.id
    async with sessionmaker.begin() as session:
        await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == row.id))


async def deactivate_all(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Integration).where(Integration.status == "active").values(status="deactivated")
        )


@pytest.fixture
async def only_this_tests_integrations(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[None]:
    """For tests that count what the sweeper does, which looks at the whole database:
    earlier tests' integrations (of any file on this worker) are deactivated so that the
    counts are this test's alone, and this test's afterwards, so that what it leaves
    waiting is not swept by a test of another file."""
    await deactivate_all(sessionmaker)
    yield
    await deactivate_all(sessionmaker)
