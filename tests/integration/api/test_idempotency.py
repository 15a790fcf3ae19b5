"""Idempotency-Key exactly as API.md says: replay, 422 for another body, 409 in flight."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.app import create_app
from invoicesync_api.db.models import Document
from invoicesync_api.settings import ApiSettings
from tests.integration.api.conftest import ADMIN_TOKEN, invoice, new_partner
from tests.support.servers import serve_in_thread


def test_same_key_same_body_replays_the_same_answer(partner: httpx.Client, client_id: str) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = partner.post("/v1/invoices", json=invoice(client_id, number="K-1"), headers=key)
    again = partner.post("/v1/invoices", json=invoice(client_id, number="K-1"), headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"


def test_each_key_replays_its_own_answer(
    api_url: str, partner: httpx.Client, client_id: str
) -> None:
    """A key is its partner's: a partner's second key and another partner's use of the same
    key each store their own answer, and every replay gives back the document its own first
    request created."""
    first_key, second_key = ({"Idempotency-Key": str(uuid.uuid4())} for _ in range(2))
    mine = invoice(client_id, number="OWN-1")
    first = partner.post("/v1/invoices", json=mine, headers=first_key)
    with new_partner(api_url, "Other Accountants") as other:
        their_client = other.post("/v1/clients", json={"name": "Other"}).json()["id"]
        theirs = invoice(their_client, number="OWN-1")
        their_first = other.post("/v1/invoices", json=theirs, headers=first_key)
        later = invoice(client_id, number="OWN-2")
        second = partner.post("/v1/invoices", json=later, headers=second_key)
        made = [first, their_first, second]
        assert [r.status_code for r in made] == [201] * 3, [r.text for r in made]

        replayed = [
            partner.post("/v1/invoices", json=mine, headers=first_key),
            other.post("/v1/invoices", json=theirs, headers=first_key),
            partner.post("/v1/invoices", json=later, headers=second_key),
        ]
    assert [r.headers.get("idempotent-replayed") for r in replayed] == ["true"] * 3
    assert [r.json()["id"] for r in replayed] == [r.json()["id"] for r in made]


def test_same_key_other_body_is_422(partner: httpx.Client, client_id: str) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    assert (
        partner.post("/v1/invoices", json=invoice(client_id, number="K-2"), headers=key).status_code
        == 201
    )
    other = partner.post("/v1/invoices", json=invoice(client_id, number="K-3"), headers=key)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


def test_a_failed_request_frees_its_key(partner: httpx.Client, client_id: str) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    bad = invoice(client_id, number="K-4", totals={"net": "1.00"})
    assert partner.post("/v1/invoices", json=bad, headers=key).status_code == 422
    # Nothing was stored for the key, so the corrected request may use it.
    good = invoice(client_id, number="K-4")
    assert partner.post("/v1/invoices", json=good, headers=key).status_code == 201
    assert (
        partner.post("/v1/invoices", json=good, headers=key).headers["idempotent-replayed"]
        == "true"
    )


async def test_concurrent_requests_with_one_key_create_one_document(
    api_url: str,
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    key = str(uuid.uuid4())
    body = invoice(client_id, number="K-5")
    async with httpx.AsyncClient(base_url=api_url, headers=dict(partner.headers)) as http:
        answers = await asyncio.gather(
            *(
                http.post("/v1/invoices", json=body, headers={"Idempotency-Key": key})
                for _ in range(8)
            )
        )
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses.count(201) >= 1
    ids = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(ids) == 1
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Document)
            .where(Document.client_id == uuid.UUID(client_id), Document.number == "K-5")
        )
    assert count == 1


async def test_more_requests_than_pooled_connections_all_get_through(
    database_url: str, encryption_key: str
) -> None:
    """A keyed POST never holds two pooled connections at once (key lookup, claim and the
    document's transaction take one each, one after the other), so a burst larger than the
    pool waits its turn instead of starving it until the pool's timeout."""
    settings = ApiSettings(
        database_url=SecretStr(database_url),
        encryption_keys=SecretStr(encryption_key),
        admin_token=SecretStr(ADMIN_TOKEN),
        run_workers=False,
        database_pool_size=2,  # 2 + 2 overflow: 4 connections for 16 requests at once
    )
    with serve_in_thread(create_app(settings)) as url, new_partner(url) as partner:
        client_id = partner.post("/v1/clients", json={"name": "Burst BV"}).json()["id"]
        async with httpx.AsyncClient(
            base_url=url, headers=dict(partner.headers), timeout=60
        ) as http:
            answers = await asyncio.gather(
                *(
                    http.post(
                        "/v1/invoices",
                        json=invoice(client_id, number=f"P-{n}"),
                        headers={"Idempotency-Key": f"burst-{n}-{uuid.uuid4()}"},
                    )
                    for n in range(16)
                )
            )
    assert [a.status_code for a in answers] == [201] * 16, [a.text for a in answers[:2]]
