"""Tenant isolation over every route: each path with an id, called by a second partner
with the first partner's ids, answers 404 (never 403, never 2xx). The matrix is built
from the app's OpenAPI document, so a new route with an id is covered, or fails here, at once."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.app import create_app
from invoicesync_api.db.models import Client, Notification, Reconciliation, SyncRun
from invoicesync_api.settings import ApiSettings
from invoicesync_shared.db.models import Integration
from tests.integration.api.conftest import invoice, new_partner

pytestmark = pytest.mark.reliability

PARAMETER = re.compile(r"{(\w+)}")
# Admin routes are guarded by the admin token, not by a partner's key.
ADMIN_PREFIX = "/admin/"


def routes_with_ids(encryption_key: str) -> list[tuple[str, str]]:
    """(method, path template) of every partner route whose path carries an id."""
    settings = ApiSettings(
        database_url=SecretStr("postgresql://unused@127.0.0.1:9/unused"),
        encryption_keys=SecretStr(encryption_key),
        run_workers=False,
    )
    paths: dict[str, dict[str, Any]] = create_app(settings).openapi()["paths"]
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        if PARAMETER.search(path) and not path.startswith(ADMIN_PREFIX)
        for method in sorted(operations)
    ]


async def owners_ids(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> dict[str, str]:
    """One id of each kind, all owned by ``partner``, by path parameter name."""
    document = partner.post("/v1/invoices", json=invoice(client_id, number="MX-1"))
    assert document.status_code == 201, document.text
    credit = invoice(client_id, number="MX-2", credit_note_for=document.json()["id"])
    credit_note = partner.post("/v1/credit-notes", json=credit)
    assert credit_note.status_code == 201, credit_note.text
    integration = partner.post(
        f"/v1/clients/{client_id}/integrations",
        json={
            "system": "exact",
            "settings": {
                "division": 1,
                "sales_journal": "70",
                "credit_note_journal": "70",
                "start_date": "2026-01-01",
            },
        },
    )
    assert integration.status_code == 201, integration.text
    endpoint = partner.post(
        "/v1/webhook-endpoints", json={"url": "https://8.8.8.8/hook", "events": ["*"]}
    )
    assert endpoint.status_code == 201, endpoint.text
    delivery = partner.post(f"/v1/webhook-endpoints/{endpoint.json()['id']}/test")
    assert delivery.status_code == 202, delivery.text
    key = partner.post("/v1/api-keys", json={"name": "Matrix", "scopes": ["read"]})
    assert key.status_code == 201, key.text
    run_id, notification_id = await _run_with_notification(client_id, sessionmaker)
    reconciliation_id = await _finished_reconciliation(integration.json()["id"], sessionmaker)
    return {
        "client_id": client_id,
        "integration_id": integration.json()["id"],
        "invoice_document_id": document.json()["id"],
        "credit_note_document_id": credit_note.json()["id"],
        "endpoint_id": endpoint.json()["id"],
        "delivery_id": delivery.json()["id"],
        "run_id": run_id,
        "notification_id": notification_id,
        "key_id": key.json()["id"],
        "reconciliation_id": reconciliation_id,
    }


async def _finished_reconciliation(
    integration_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> str:
    """A finished reconciliation with nothing to repair, written directly (no connector
    runs here), so its GET and apply have a real id."""
    async with sessionmaker.begin() as session:
        integration = await session.get(Integration, uuid.UUID(integration_id))
        assert integration is not None
        reconciliation = Reconciliation(
            partner_id=integration.partner_id,
            client_id=integration.client_id,
            integration_id=integration.id,
            period_from=date(2026, 11, 1),
            period_to=date(2026, 11, 30),
            trigger="manual",
            status="finished",
            started_at=datetime.now(UTC),
            report={"repair_plan": []},
        )
        session.add(reconciliation)
        await session.flush()
        return str(reconciliation.id)


async def _run_with_notification(
    client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> tuple[str, str]:
    """A finished run and its bell entry, written directly: no workers run here."""
    async with sessionmaker.begin() as session:
        client = await session.get(Client, uuid.UUID(client_id))
        assert client is not None
        partner_id = client.partner_id
        run = SyncRun(
            partner_id=partner_id,
            client_id=uuid.UUID(client_id),
            integration_ids=[],
            trigger="manual",
            status="finished",
        )
        session.add(run)
        await session.flush()
        note = Notification(
            partner_id=partner_id,
            client_id=uuid.UUID(client_id),
            kind="sync_run_finished",
            sync_run_id=run.id,
            title="Sync finished",
            body="",
        )
        session.add(note)
        await session.flush()
        return str(run.id), str(note.id)


def fill(path: str, ids: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "document_id":
            kind = "credit_note" if path.startswith("/v1/credit-notes") else "invoice"
            return ids[f"{kind}_document_id"]
        assert name in ids, f"the isolation matrix has no id for {{{name}}} in {path}"
        return ids[name]

    return PARAMETER.sub(one, path)


# Valid bodies where ``{}`` is not, so a 422 cannot hide whether the id was found.
BODIES: dict[str, dict[str, Any]] = {
    "/v1/integrations/{integration_id}/deactivate": {"from_date": "2026-01-01"},
    "/v1/integrations/{integration_id}/relink": {"settings": {}},
    "/v1/integrations/{integration_id}/reconciliations": {"from": "2026-11-01", "to": "2026-11-30"},
}


def body_for(method: str, template: str) -> dict[str, Any] | None:
    return None if method in ("GET", "DELETE") else BODIES.get(template, {})


async def test_every_route_with_an_id_is_404_for_another_partner(
    api_url: str,
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    encryption_key: str,
) -> None:
    ids = await owners_ids(partner, client_id, sessionmaker)
    matrix = routes_with_ids(encryption_key)
    assert len(matrix) >= 20, matrix  # the walk found the routes
    leaks = []
    with new_partner(api_url, "Intruder") as intruder:
        for method, template in matrix:
            path = fill(template, ids)
            response = intruder.request(method, path, json=body_for(method, template))
            if response.status_code != 404:
                leaks.append((method, template, response.status_code, response.text[:120]))
            else:
                assert response.headers["content-type"] == "application/problem+json"
    assert leaks == [], "\n".join(map(str, leaks))
    # And the owner still sees each of them (the ids were real).
    for name in ("client_id", "integration_id", "endpoint_id", "run_id"):
        assert ids[name]
    assert partner.get(f"/v1/invoices/{ids['invoice_document_id']}").status_code == 200
