"""The reconciliation resource without connectors: the request, the one running at a
time, the outbox event asking the connector, and what the API makes of the connector's
answers (a failure with its reason, entries that did not all arrive, a repeated event),
with the webhook each finished one sends. The comparison against a real system is the
e2e test's (tests/e2e/test_reconciliation_lexware.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Reconciliation
from invoicesync_api.reconciliations.service import GIVE_UP_AFTER
from invoicesync_api.sync.results import ResultApplier
from invoicesync_shared.db.models import OutboxMessage
from invoicesync_shared.events.envelope import Envelope, Event
from invoicesync_shared.events.reconciliations import (
    ReconciliationEntriesRead,
    ReconciliationRead,
    RemoteEntry,
)
from tests.integration.api.conftest import add_integration

PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}


def _url(integration_id: uuid.UUID, reconciliation_id: str = "") -> str:
    base = f"/v1/integrations/{integration_id}/reconciliations"
    return f"{base}/{reconciliation_id}" if reconciliation_id else base


def _fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [e["field"] for e in response.json()["errors"]]


async def test_a_bad_period_is_refused_naming_the_field(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration_id = await add_integration(sessionmaker, client_id)
    url = _url(integration_id)
    assert _fields(partner.post(url, json={"from": "2026-11-30", "to": "2026-11-01"})) == ["to"]
    assert _fields(partner.post(url, json={"from": "2025-01-01", "to": "2026-11-01"})) == ["to"]
    assert "from" in _fields(partner.post(url, json={"to": "2026-11-01"}))
    assert "from" in _fields(partner.post(url, json={"from": "November", "to": "2026-11-01"}))
    assert "since" in _fields(partner.post(url, json={**PERIOD, "since": "2026-11-01"}))


async def test_a_start_asks_the_connector_through_the_outbox_once_at_a_time(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration_id = await add_integration(sessionmaker, client_id, system="lexware")
    started = partner.post(_url(integration_id), json={**PERIOD, "detailed": True})
    assert started.status_code == 202, started.text
    body = started.json()
    assert (body["status"], body["from"], body["to"], body["system"]) == (
        "running",
        "2026-11-01",
        "2026-11-30",
        "lexware",
    )
    assert body["progress"] == {"entries_read": 0, "calls_used": 0} and body["report"] is None
    async with sessionmaker() as session:
        (row,) = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.envelope["subject"].astext == body["id"])
        )
    assert (row.topic, row.key, row.event_type) == (
        "invoicesync.documents",
        client_id,
        "com.invoicesync.reconciliation.requested",
    )
    assert row.envelope["data"] == {
        "reconciliation_id": body["id"],
        "integration_id": str(integration_id),
        "system": "lexware",
        "period_from": "2026-11-01",
        "period_to": "2026-11-30",
        "detailed": True,
    }
    again = partner.post(_url(integration_id), json=PERIOD)
    assert again.status_code == 409, again.text
    assert again.json()["reconciliation_id"] == body["id"]
    running = partner.post(f"{_url(integration_id, body['id'])}/apply")
    assert running.status_code == 409, running.text


async def test_an_inactive_integration_is_not_reconciled(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration_id = await add_integration(sessionmaker, client_id, status="needs_reauthorization")
    refused = partner.post(_url(integration_id), json=PERIOD)
    assert refused.status_code == 422, refused.text
    assert "needs reauthorization" in refused.json()["detail"]


async def test_another_integrations_reconciliation_is_not_found(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    one = await add_integration(sessionmaker, client_id)
    other = await add_integration(sessionmaker, client_id, system="yuki")
    started = partner.post(_url(one), json=PERIOD).json()
    assert partner.get(_url(one, started["id"])).status_code == 200
    assert partner.get(_url(other, started["id"])).status_code == 404


def _envelope(event: Event, client_id: str) -> Envelope:
    return Envelope.wrap(event, source="/connectors/lexware", subject="r", key=client_id)


async def test_a_failed_read_says_why_and_tells_the_webhook(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    hook = partner.post(
        "/v1/webhook-endpoints",
        json={"url": "https://8.8.8.8/hook", "events": ["reconciliation.finished"]},
    )
    assert hook.status_code == 201, hook.text
    integration_id = await add_integration(sessionmaker, client_id, system="lexware")
    started = partner.post(_url(integration_id), json=PERIOD).json()
    failed = ReconciliationRead(
        reconciliation_id=uuid.UUID(started["id"]),
        integration_id=integration_id,
        chunks=0,
        entries=0,
        calls_used=1,
        failure_code="needs_reauthorization",
        message="Lexware Office no longer accepts the authorisation.",
    )
    await ResultApplier(sessionmaker).handle(_envelope(failed, client_id))
    done = partner.get(_url(integration_id, started["id"])).json()
    assert done["status"] == "failed"
    assert done["failure"] == {
        "code": "needs_reauthorization",
        "message": "Lexware Office no longer accepts the authorisation.",
    }
    assert done["calls_used"] == 1 and done["finished_at"] is not None
    deliveries = partner.get(f"/v1/webhook-endpoints/{hook.json()['id']}/deliveries").json()
    assert [d["event_type"] for d in _items(deliveries)] == ["reconciliation.finished"]
    notes = partner.get("/v1/notifications", params={"client_id": client_id}).json()
    assert [n for n in notes if n["kind"] == "reconciliation_differences"] == []


async def test_entries_that_did_not_all_arrive_fail_it_and_a_repeated_chunk_counts_once(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration_id = await add_integration(sessionmaker, client_id, system="lexware")
    started = partner.post(_url(integration_id), json=PERIOD).json()
    rid = uuid.UUID(started["id"])
    entries = [RemoteEntry(remote_id=f"v-{i}", gross="10.00") for i in range(3)]
    chunk = ReconciliationEntriesRead(
        reconciliation_id=rid,
        integration_id=integration_id,
        chunk=0,
        entries=entries,
        calls_used=1,
    )
    applier = ResultApplier(sessionmaker)
    await applier.handle(_envelope(chunk, client_id))
    await applier.handle(_envelope(chunk, client_id))  # read again after a redelivery
    progress = partner.get(_url(integration_id, started["id"])).json()["progress"]
    assert progress == {"entries_read": 3, "calls_used": 1}
    over = ReconciliationRead(
        reconciliation_id=rid, integration_id=integration_id, chunks=2, entries=5, calls_used=2
    )
    await applier.handle(_envelope(over, client_id))
    done = partner.get(_url(integration_id, started["id"])).json()
    assert done["status"] == "failed", done
    assert done["failure"]["code"] == "entries_lost"
    assert "3 of the 5" in done["failure"]["message"]


def _items(page: Any) -> list[dict[str, Any]]:
    return list(page["data"] if isinstance(page, dict) else page)


async def test_a_reconciliation_never_answered_stops_holding_the_integration(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration_id = await add_integration(sessionmaker, client_id, system="lexware")
    stuck = partner.post(_url(integration_id), json=PERIOD).json()
    async with sessionmaker.begin() as session:
        row = await session.get(Reconciliation, uuid.UUID(stuck["id"]))
        assert row is not None
        row.started_at -= GIVE_UP_AFTER + timedelta(minutes=1)
    again = partner.post(_url(integration_id), json=PERIOD)
    assert again.status_code == 202, again.text
    given_up = partner.get(_url(integration_id, stuck["id"])).json()
    assert (given_up["status"], given_up["failure"]["code"]) == ("failed", "no_answer")
