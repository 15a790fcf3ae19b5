"""Relink and a repair from a given date, each accepted: the API asks the real Exact
connector (its control app, served here) to check the connection in the sandbox."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from invoicesync_api.app import create_app
from invoicesync_api.db.models import Client
from invoicesync_api.settings import ApiSettings
from invoicesync_shared.bus.consumer import EventConsumer
from invoicesync_shared.connectors.service import control_app
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.engine import create_engine, create_sessionmaker
from tests.integration.api.conftest import ADMIN_TOKEN, HIGH_LIMITS, invoice, new_partner
from tests.integration.api.test_retry_and_lifecycle import (
    booked_before_and_after_november,
    requests_for,
    sync_row,
)
from tests.integration.connectors.exact_support import connected_integration, control, replica
from tests.support.servers import serve_in_thread

Sessions = async_sessionmaker[AsyncSession]


def _exact_connector(database_url: str, sandbox_url: str, box: SecretBox) -> Starlette:
    """The Exact connector's control app on its own loop (engine, tokens, client and
    runtime as a connector process builds them, pointed at the sandbox)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = create_engine(SecretStr(database_url), application_name="tests-exact-connector")
        one = replica(sandbox_url, create_sessionmaker(engine), box)
        consumer = EventConsumer(  # never started: only the readiness route reads it
            "127.0.0.1:9", topics=["unused"], group_id=f"g-{uuid.uuid4()}", handler=_ignore
        )
        app.mount("/", control_app(engine, consumer, one.runtime))
        try:
            yield
        finally:
            await consumer.close()
            await one.http.aclose()
            await engine.dispose()

    return Starlette(lifespan=lifespan)


async def _ignore(_: object) -> None:
    return None


@pytest.fixture(scope="module")
def checked_api_url(
    database_url: str, encryption_key: str, secret_box: SecretBox, shared_sandbox_url: str
) -> Iterator[str]:
    """An API whose Exact connector answers (the others point at a closed port)."""
    with serve_in_thread(_exact_connector(database_url, shared_sandbox_url, secret_box)) as exact:
        settings = ApiSettings(
            database_url=SecretStr(database_url),
            encryption_keys=SecretStr(encryption_key),
            admin_token=SecretStr(ADMIN_TOKEN),
            run_workers=False,
            connector_exact_url=exact,
            connector_lexware_url="http://127.0.0.1:9",
            connector_yuki_url="http://127.0.0.1:9",
            **HIGH_LIMITS,
        )
        with serve_in_thread(create_app(settings)) as url:
            yield url


@pytest.fixture
def partner(checked_api_url: str) -> Iterator[httpx.Client]:
    with new_partner(checked_api_url, "Relinking Accountants") as client:
        yield client


async def _connected(
    partner: httpx.Client, sessionmaker: Sessions, box: SecretBox, sandbox_url: str
) -> tuple[str, uuid.UUID, dict[str, Any]]:
    """A client of the partner with an Exact integration holding real tokens for a new
    division of the sandbox."""
    client_id = partner.post("/v1/clients", json={"name": "Relink BV", "country": "NL"}).json()[
        "id"
    ]
    async with sessionmaker() as session:
        client = await session.get(Client, uuid.UUID(client_id))
    assert client is not None
    division, _, integration = await connected_integration(sandbox_url, sessionmaker, box, client)
    return client_id, integration.id, division


async def test_a_relink_to_another_division_makes_a_deactivated_integration_active(
    partner: httpx.Client, sessionmaker: Sessions, secret_box: SecretBox, shared_sandbox_url: str
) -> None:
    """Exact checks the merged settings (the new division with the journals kept); the
    integration is active with them, and the next document is asked for there."""
    client_id, integration, division = await _connected(
        partner, sessionmaker, secret_box, shared_sandbox_url
    )
    other = control(shared_sandbox_url, "POST", "/exact/divisions", json={})
    path = f"/v1/integrations/{integration}"
    deactivated = partner.post(f"{path}/deactivate", json={"from_date": "2026-01-01"})
    assert deactivated.status_code == 200, deactivated.text

    relinked = partner.post(f"{path}/relink", json={"settings": {"division": other["division"]}})

    assert relinked.status_code == 200, relinked.text
    assert relinked.json()["status"] == "active"
    stored = partner.get(path).json()
    assert stored["status"] == "active"
    assert stored["settings"]["division"] == other["division"] != division["division"]
    assert stored["settings"]["sales_journal"] == division["sales_journal"]  # kept
    assert stored["settings"]["start_date"] == "2026-01-01"
    created = partner.post("/v1/invoices", json=invoice(client_id, number="RELINKED-1")).json()
    assert [(s["integration_id"], s["status"]) for s in created["sync"]] == [
        (str(integration), "pending")
    ]


async def test_a_repair_from_a_given_date_resets_from_there_and_resyncs(
    partner: httpx.Client, sessionmaker: Sessions, secret_box: SecretBox, shared_sandbox_url: str
) -> None:
    """Nothing is flagged, so only ``from_date`` makes the repair go: the documents from
    that date are reset and asked for again by the run it starts; older ones stay booked."""
    client_id, integration, _ = await _connected(
        partner, sessionmaker, secret_box, shared_sandbox_url
    )
    older, newer = await booked_before_and_after_november(
        partner, sessionmaker, client_id, integration, "REPAIR", ("26900001", "26900002")
    )
    generation = (await sync_row(sessionmaker, newer, integration)).generation
    asked = {d: len(await requests_for(sessionmaker, d)) for d in (older, newer)}
    path = f"/v1/integrations/{integration}/repair"
    assert partner.post(path, json={}).status_code == 422  # nothing flagged to repair

    repaired = partner.post(path, json={"from_date": "2026-11-01"})

    assert repaired.status_code == 200, repaired.text
    body = repaired.json()
    assert (body["from_date"], body["documents_reset"]) == ("2026-11-01", 1)
    assert body["integration"]["status"] == "active"
    assert body["sync_run"]["totals"]["documents_total"] == 1
    reset = await sync_row(sessionmaker, newer, integration)
    assert (reset.status, reset.booking_number) == ("pending", None)
    assert reset.generation == generation + 1
    kept = await sync_row(sessionmaker, older, integration)
    assert (kept.status, kept.booking_number) == ("booked", "26900001")
    assert len(await requests_for(sessionmaker, newer)) == asked[newer] + 1
    assert len(await requests_for(sessionmaker, older)) == asked[older]


async def test_a_refused_journal_keeps_the_nightly_fields_sent_with_it(
    partner: httpx.Client, sessionmaker: Sessions, secret_box: SecretBox, shared_sandbox_url: str
) -> None:
    """Exact refuses a journal the division lacks: nothing of the change is stored, not
    even the nightly sync fields that came with it (as in the console)."""
    _, integration, division = await _connected(
        partner, sessionmaker, secret_box, shared_sandbox_url
    )
    path = f"/v1/integrations/{integration}"
    before = partner.get(path).json()
    change = {
        "settings": {"sales_journal": "ZZ9"},
        "nightly_sync": not before["nightly_sync"],
        "nightly_hour": (before["nightly_hour"] + 3) % 24,
        "failure_brake_after": before["failure_brake_after"] + 5,
        "nightly_reconciliation_days": before["nightly_reconciliation_days"] + 2,
    }

    refused = partner.patch(path, json=change)

    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "connection_failed"
    after = partner.get(path).json()
    nightly = ("nightly_sync", "nightly_hour", "failure_brake_after", "nightly_reconciliation_days")
    assert {n: after[n] for n in nightly} == {n: before[n] for n in nightly}
    assert after["settings"]["sales_journal"] == division["sales_journal"]
    accepted = partner.patch(path, json={k: v for k, v in change.items() if k != "settings"})
    assert accepted.status_code == 200, accepted.text
    assert {n: partner.get(path).json()[n] for n in nightly} == {n: change[n] for n in nightly}
