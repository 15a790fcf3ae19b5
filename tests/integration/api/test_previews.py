"""POST /v1/invoices/preview and /v1/credit-notes/preview at the API: the create's checks,
nothing stored, the API's own problems (start date, a lapsed connection) and a connector
that cannot be asked (this app's connectors point at a closed port)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.app import create_app
from invoicesync_api.db.models import Document
from invoicesync_api.settings import ApiSettings
from invoicesync_shared.db.models import OutboxMessage
from tests.integration.api.conftest import (
    ADMIN_TOKEN,
    HIGH_LIMITS,
    add_integration,
    invoice,
    new_partner,
)
from tests.support.servers import serve_in_thread


async def _stored(sessionmaker: async_sessionmaker[AsyncSession], client_id: str) -> int:
    async with sessionmaker() as session:
        documents = await session.scalar(
            select(func.count()).select_from(Document).where(Document.client_id == client_id)
        )
        events = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.key == client_id)
        )
    return int(documents or 0) + int(events or 0)


async def test_a_preview_stores_nothing_and_names_each_integrations_problems(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    active = await add_integration(sessionmaker, client_id, system="exact")
    broken = await add_integration(
        sessionmaker, client_id, system="yuki", status="needs_reauthorization"
    )
    # Connected after the document would be created: not one of its integrations.
    await add_integration(
        sessionmaker, client_id, activated_at=datetime.now(UTC) + timedelta(hours=1)
    )
    body = invoice(client_id, number="PRE-1", issue_date="2025-12-31", due_date="2026-01-30")
    answer = partner.post("/v1/invoices/preview", json=body)
    assert answer.status_code == 200, answer.text
    previews = {p["integration_id"]: p for p in answer.json()["integrations"]}
    assert set(previews) == {str(active), str(broken)}

    exact = previews[str(active)]
    assert exact["system"] == "exact"
    codes = [p["code"] for p in exact["problems"]]
    assert codes == ["before_start_date", "preview_unavailable"]
    start = exact["problems"][0]
    assert start["field"] == "issue_date"
    assert "2025-12-31" in start["message"] and "2026-01-01" in start["message"]
    assert f"PATCH /v1/integrations/{active}" in start["message"]
    assert (exact["payload"], exact["customer"]) == (None, None)

    yuki = previews[str(broken)]
    assert [p["code"] for p in yuki["problems"]] == ["before_start_date", "integration_inactive"]
    assert "reconnect" in yuki["problems"][1]["message"]

    assert await _stored(sessionmaker, client_id) == 0
    # The same body still creates: the preview took neither the number nor a key.
    assert partner.post("/v1/invoices", json=body).status_code == 201


async def test_a_document_on_the_start_date_has_no_start_date_problem(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await add_integration(sessionmaker, client_id, system="exact")
    body = invoice(client_id, number="PRE-2", issue_date="2026-01-01")
    (only,) = partner.post("/v1/credit-notes/preview", json=body).json()["integrations"]
    assert [p["code"] for p in only["problems"]] == ["preview_unavailable"]


def test_a_body_the_create_refuses_is_refused_alike(partner: httpx.Client, client_id: str) -> None:
    bad = invoice(client_id, number="PRE-3", currency="XTS")
    bad["lines"][0]["unit_price"] = "abc"
    for path in ("/v1/invoices", "/v1/invoices/preview"):
        refused = partner.post(path, json=bad)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        fields = {e["field"] for e in refused.json()["errors"]}
        assert {"currency", "lines.0.unit_price"} <= fields


def test_another_partners_client_is_not_found(api_url: str, client_id: str) -> None:

    with new_partner(api_url, "Other") as other:
        answer = other.post("/v1/invoices/preview", json=invoice(client_id, number="PRE-4"))
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.fixture
def hung_connector() -> Iterator[str]:
    """A connector process that accepts connections and never answers (stuck, or its
    event loop blocked)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


async def test_a_connector_that_does_not_answer_in_time_is_a_problem_not_a_failure(
    database_url: str,
    encryption_key: str,
    hung_connector: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    settings = ApiSettings(
        database_url=SecretStr(database_url),
        encryption_keys=SecretStr(encryption_key),
        admin_token=SecretStr(ADMIN_TOKEN),
        run_workers=False,
        connector_exact_url=hung_connector,
        connector_lexware_url="http://127.0.0.1:9",
        connector_yuki_url="http://127.0.0.1:9",
        preview_timeout_seconds=0.5,
        **HIGH_LIMITS,
    )
    with serve_in_thread(create_app(settings)) as url, new_partner(url) as partner:
        client_id = partner.post("/v1/clients", json={"name": "Jansen", "country": "NL"}).json()
        exact = await add_integration(sessionmaker, client_id["id"], system="exact")
        lexware = await add_integration(sessionmaker, client_id["id"], system="lexware")
        started = time.monotonic()
        answer = partner.post("/v1/invoices/preview", json=invoice(client_id["id"], "PRE-5"))
        took = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    previews = {p["integration_id"]: p for p in answer.json()["integrations"]}
    stuck = previews[str(exact)]["problems"]
    assert [(p["code"], "in time" in p["message"]) for p in stuck] == [
        ("preview_unavailable", True)
    ]
    assert [p["code"] for p in previews[str(lexware)]["problems"]] == ["preview_unavailable"]
    assert took < 5, took  # bounded by the setting, the connectors asked side by side
