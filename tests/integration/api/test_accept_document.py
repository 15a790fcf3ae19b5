"""The accept service's Idempotency-Key protocol through the API (documents/accept_document.py):
a key whose first request is still running is a 409; an abandoned claim is taken over, and
let go again if the request that took it over fails; a client whose integrations keep
changing under the write gets a 503 after a bounded number of reads, with nothing stored
and its key free again."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Document, IdempotencyKey
from invoicesync_api.documents import accept, files
from invoicesync_api.documents.accept_document import ACCEPT_ATTEMPTS
from invoicesync_api.documents.idempotency import Claimed, IdempotencyKeys, request_hash
from invoicesync_api.documents.schemas import DocumentIn, PurchaseDocumentIn
from invoicesync_shared.db.models import Integration
from tests.integration.api.conftest import add_integration, invoice
from tests.integration.api.test_accept import partner_of
from tests.integration.api.test_purchase_documents import PDF, purchase, stored_file

BOUND = 20.0  # seconds: a failure shows as a timeout, not a hang
PROBLEM = "application/problem+json"


async def documents_numbered(
    sessionmaker: async_sessionmaker[AsyncSession], client_id: str, number: str
) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Document)
            .where(Document.client_id == uuid.UUID(client_id), Document.number == number)
        )
    return int(count or 0)


async def until_claimed(
    sessionmaker: async_sessionmaker[AsyncSession], key: str, request: asyncio.Task[Any]
) -> None:
    """Return once ``key`` is claimed (the claim commits with the request's read), or the
    request is through."""
    async with asyncio.timeout(BOUND):
        while not request.done():
            async with sessionmaker() as watcher:  # a new snapshot
                claimed = select(IdempotencyKey.key).where(IdempotencyKey.key == key)
                if await watcher.scalar(claimed) is not None:
                    return
            await asyncio.sleep(0.01)  # polling a condition, not waiting out a race


async def test_a_key_whose_first_request_is_still_running_is_409_then_replayed(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The first request has claimed the key and waits (for a relink holding the client's
    integration) when the second one comes with the same key and body: that one is told
    the first is still in progress, and once the first is through it gets its answer."""
    integration = await add_integration(sessionmaker, client_id)
    key = {"Idempotency-Key": f"in-flight-{uuid.uuid4()}"}
    body = invoice(client_id, number="FLIGHT-1")

    async with sessionmaker.begin() as session:
        await session.get(Integration, integration, with_for_update=True)
        first = asyncio.create_task(
            asyncio.to_thread(partner.post, "/v1/invoices", json=body, headers=key)
        )
        await until_claimed(sessionmaker, key["Idempotency-Key"], first)
        assert not first.done()  # its write waits for the integration
        second = await asyncio.to_thread(partner.post, "/v1/invoices", json=body, headers=key)
    created = await asyncio.wait_for(first, BOUND)

    assert second.status_code == 409, second.text
    assert second.headers["content-type"] == PROBLEM
    assert second.json()["code"] == "conflict"
    assert second.json()["detail"] == "A request with this Idempotency-Key is still in progress."
    assert created.status_code == 201, created.text
    again = partner.post("/v1/invoices", json=body, headers=key)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == created.json()
    assert await documents_numbered(sessionmaker, client_id, "FLIGHT-1") == 1


def request_digest(path: str, body: dict[str, Any]) -> str:
    """The hash the API keeps for a POST of ``body`` to ``path``: the body without its file,
    and a purchase document's file by its name, type and SHA-256."""
    if path == "/v1/invoices":
        return request_hash("POST", path, DocumentIn.model_validate(body).model_dump(mode="json"))
    fields = PurchaseDocumentIn.model_validate(body).model_dump(mode="json", exclude={"file"})
    sent = body["file"]
    content = base64.b64decode(sent["content_base64"])
    checked = files.check(sent["filename"], sent["content_type"], content, max_bytes=len(content))
    fields["file"] = checked.fingerprint()
    return request_hash("POST", path, fields)


async def abandoned_claim(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    client_id: str,
    key: str,
    path: str,
    body: dict[str, Any],
) -> None:
    """``key`` claimed for ``body`` on ``path`` by a request that stalled past the in-flight
    window (60 s by default), on the database clock."""
    keys = IdempotencyKeys(engine, sessionmaker, 60)
    partner_id = await partner_of(sessionmaker, client_id)
    claimed = await keys.claim(partner_id, key, request_digest(path, body))
    assert isinstance(claimed, Claimed)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == key)
            .values(created_at=func.now() - text("interval '61 seconds'"))
        )


@pytest.mark.parametrize(
    ("path", "make"),
    [("/v1/invoices", invoice), ("/v1/purchase-invoices", purchase)],
    ids=["sales", "purchase"],
)
async def test_an_abandoned_claim_is_taken_over_and_its_answer_replayed(
    partner: httpx.Client,
    client_id: str,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    path: str,
    make: Callable[..., dict[str, Any]],
) -> None:
    """The request taking the claim over stores the document (a purchase one with its
    file) and its answer under the key, so the next request with it is a replay."""
    key = f"abandoned-{uuid.uuid4()}"
    body = make(client_id, "ABANDONED-1")
    await abandoned_claim(engine, sessionmaker, client_id, key, path, body)

    created = partner.post(path, json=body, headers={"Idempotency-Key": key})
    assert created.status_code == 201, created.text
    assert "idempotent-replayed" not in created.headers
    if path != "/v1/invoices":
        assert created.json()["file"]["sha256"] == hashlib.sha256(PDF).hexdigest()
        assert await stored_file(sessionmaker, created.json()["id"]) is not None
    again = partner.post(path, json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == created.json()
    assert await documents_numbered(sessionmaker, client_id, "ABANDONED-1") == 1


async def test_a_request_that_took_over_an_abandoned_claim_and_failed_frees_the_key(
    partner: httpx.Client,
    client_id: str,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The request taking the claim over fails the document's checks (totals that do not
    add up): it lets the key go like any failed request, so the corrected body may use it."""
    key = f"abandoned-{uuid.uuid4()}"
    bad = invoice(client_id, number="ABANDONED-2", totals={"net": "1.00"})
    await abandoned_claim(engine, sessionmaker, client_id, key, "/v1/invoices", bad)

    refused = partner.post("/v1/invoices", json=bad, headers={"Idempotency-Key": key})
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] != "idempotency_key_reused"  # taken over, then checked
    good = invoice(client_id, number="ABANDONED-2")
    created = partner.post("/v1/invoices", json=good, headers={"Idempotency-Key": key})
    assert created.status_code == 201, created.text
    assert "idempotent-replayed" not in created.headers


async def test_integrations_that_keep_changing_under_the_write_are_a_503_and_store_nothing(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before every write a relink or a deactivation of the client's integration commits
    (after the read that found it): each write finds the integrations changed and writes
    nothing. After ACCEPT_ATTEMPTS reads the request gives up with a 503 in the caller's
    language, nothing stored, and the key free for the retry."""
    integration = await add_integration(sessionmaker, client_id)
    real_store = accept.store
    writes: list[str] = []

    async def store_after_a_change(connection: AsyncConnection, *args: Any, **kwargs: Any) -> bool:
        status = "deactivated" if len(writes) % 2 == 0 else "active"
        async with connection.engine.begin() as other:  # another request's transaction
            await other.execute(
                update(Integration).where(Integration.id == integration).values(status=status)
            )
        writes.append(status)
        return await real_store(connection, *args, **kwargs)

    monkeypatch.setattr(accept, "store", store_after_a_change)
    key = {"Idempotency-Key": f"changing-{uuid.uuid4()}"}
    body = invoice(client_id, number="CHANGING-1")
    refused = partner.post("/v1/invoices", json=body, headers={**key, "Accept-Language": "nl"})

    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["code"] == "unavailable"
    assert refused.json()["detail"] == (
        "De integraties van de klant veranderden steeds terwijl het document werd aangenomen; "
        "er is niets opgeslagen. Stuur het opnieuw."
    )
    assert len(writes) == ACCEPT_ATTEMPTS
    assert await documents_numbered(sessionmaker, client_id, "CHANGING-1") == 0

    monkeypatch.setattr(accept, "store", real_store)  # the integration settles, active
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Integration).where(Integration.id == integration).values(status="active")
        )
    created = partner.post("/v1/invoices", json=body, headers=key)
    assert created.status_code == 201, created.text
    assert "idempotent-replayed" not in created.headers
    synced: Sequence[dict[str, Any]] = created.json()["sync"]
    assert [s["integration_id"] for s in synced] == [str(integration)]
