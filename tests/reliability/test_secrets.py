"""Secrets stay secret: Exact OAuth tokens, the Yuki access key, a webhook signing secret
and the partner's API key appear in no log, on no topic, in no API answer after creation,
and in no database row in plain text (credentials are encrypted at rest)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from invoicesync_shared.crypto import SecretBox
from tests.e2e.conftest import wait_for
from tests.reliability.conftest import new_partner_key
from tests.support.broker_control import ControlledBroker
from tests.support.chaos import expire_all_tokens
from tests.support.haystacks import every_kafka_message, every_row, leaks, log_texts
from tests.support.integrations import ConnectedClient, connect, invoice_body, new_client
from tests.support.processes import Stack

pytestmark = pytest.mark.reliability


async def stored_credentials(engine: AsyncEngine, box: SecretBox) -> dict[str, str]:
    """Every credential string stored, decrypted with the test's key (tokens, keys)."""
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT id, system, credentials FROM integrations"))
        found = {}
        for integration_id, system, sealed in rows:
            if sealed is None:
                continue
            for name, value in box.decrypt_json(bytes(sealed)).items():
                if isinstance(value, str) and len(value) >= 8:
                    found[f"{system} {name} ({integration_id})"] = value
        return found


def drive(partner: httpx.Client, clients: list[ConnectedClient], prefix: str) -> None:
    ids = []
    for client in clients:
        for n in range(2):
            body = invoice_body(client, f"{prefix}-{client.system}-{n}", f"{prefix}-k{n}")
            created = partner.post("/v1/invoices", json=body)
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])

    def all_synced() -> bool:
        states = [s for i in ids for s in partner.get(f"/v1/invoices/{i}").json()["sync"]]
        return all(s["status"] in ("booked", "sent") for s in states)

    wait_for(all_synced, timeout=120)


def api_answers(partner: httpx.Client, clients: list[ConnectedClient]) -> dict[str, str]:
    paths = ["/v1/clients", "/v1/webhook-endpoints", "/v1/sync-runs", "/v1/notifications"]
    for client in clients:
        paths += [
            f"/v1/clients/{client.client_id}",
            f"/v1/clients/{client.client_id}/integrations",
            f"/v1/integrations/{client.integration_id}",
            f"/v1/invoices?client_id={client.client_id}",
        ]
    for endpoint in partner.get("/v1/webhook-endpoints").json():
        paths += [
            f"/v1/webhook-endpoints/{endpoint['id']}",
            f"/v1/webhook-endpoints/{endpoint['id']}/deliveries",
        ]
    answers = {f"GET {p}": partner.get(p) for p in paths}
    assert all(r.status_code == 200 for r in answers.values()), answers
    return {name: r.text for name, r in answers.items()}


async def test_no_secret_in_logs_topics_answers_or_plain_rows(
    chaos_stack: Stack,
    chaos_broker: ControlledBroker,
    engine: AsyncEngine,
    secret_box: SecretBox,
) -> None:
    key = new_partner_key(chaos_stack)
    partner = httpx.Client(
        base_url=chaos_stack.api_url, timeout=60, headers={"Authorization": f"Bearer {key}"}
    )
    clients = [
        connect(chaos_stack, partner, new_client(partner, f"Secret {s}", "NL"), s)
        for s in ("exact", "yuki")
    ]
    endpoint = partner.post(
        "/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/hook", "events": ["*"]}
    )
    assert endpoint.status_code == 201, endpoint.text
    webhook_secret = endpoint.json()["secret"]
    secrets: dict[str, Any] = {
        "partner api key": key,
        "webhook secret": webhook_secret,
        "webhook secret key": webhook_secret.removeprefix("whsec_"),
        "yuki access key": clients[1].access_key,
        **await stored_credentials(engine, secret_box),
    }
    drive(partner, clients, "SEC1")
    expire_all_tokens(chaos_stack)  # Exact rotates its refresh token: a second pair
    drive(partner, clients, "SEC2")
    secrets.update(await stored_credentials(engine, secret_box))
    assert any("refresh_token" in name for name in secrets), secrets.keys()
    assert any("access_token" in name for name in secrets), secrets.keys()

    haystacks = {
        **{f"log {name}": t for name, t in log_texts(chaos_stack.log_dir).items()},
        **{
            f"kafka message {i}": m
            for i, m in enumerate(await every_kafka_message(chaos_broker.bootstrap))
        },
        **api_answers(partner, clients),
        **{f"table {name}": rows for name, rows in (await every_row(engine)).items()},
    }
    assert sum(name.startswith("kafka") for name in haystacks) >= 8  # the events were read
    assert leaks(secrets, haystacks) == []
