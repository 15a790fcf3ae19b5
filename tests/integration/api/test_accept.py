"""The accept path writes a document, its sync rows, its event and the idempotent answer
in one statement: when that statement loses a race for the number, none of them is
stored."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Client, Document, DocumentSync, IdempotencyKey
from invoicesync_api.documents import accept, service
from invoicesync_api.documents.idempotency import Claimed, IdempotencyKeys, request_hash
from invoicesync_api.documents.schemas import DocumentIn
from invoicesync_shared.db.engine import autocommit
from invoicesync_shared.db.models import OutboxMessage
from tests.integration.api.conftest import add_integration, invoice


async def partner_of(sessionmaker: async_sessionmaker[AsyncSession], client_id: str) -> uuid.UUID:
    async with sessionmaker() as session:
        client = await session.get(Client, uuid.UUID(client_id))
    assert client is not None
    return client.partner_id


async def test_a_document_that_loses_the_race_for_its_number_leaves_nothing(
    partner: httpx.Client,
    client_id: str,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add_integration(sessionmaker, client_id)
    partner_id = await partner_of(sessionmaker, client_id)
    key = f"race-{uuid.uuid4()}"
    async with sessionmaker.begin() as session:  # the key as the request claimed it
        session.add(IdempotencyKey(partner_id=partner_id, key=key, request_hash="0" * 64))

    body = DocumentIn.model_validate(invoice(client_id, number="ATOM-1"))
    async with autocommit(engine) as connection:
        new = await service.create(connection, body, "invoice", partner_id, max_days_ahead=366)
    assert len(new.states) == 1 and new.announcement is not None
    # Another request stores the same number between the checks and the write.
    assert partner.post("/v1/invoices", json=invoice(client_id, number="ATOM-1")).status_code == 201

    answer = accept.Answer(partner_id, key, 201, {"id": str(new.document.id)})
    with pytest.raises(IntegrityError):
        async with autocommit(engine) as connection:
            await accept.store(connection, new.document, new.states, new.announcement, answer)

    async with sessionmaker() as session:
        assert await session.get(Document, new.document.id) is None
        syncs = select(func.count()).where(DocumentSync.document_id == new.document.id)
        assert await session.scalar(syncs) == 0
        events = select(func.count()).where(OutboxMessage.event_id == new.announcement["event_id"])
        assert await session.scalar(events) == 0
        claim = await session.get(IdempotencyKey, (partner_id, key))
        assert claim is not None and claim.response_status is None


async def test_the_write_stores_each_part_once(
    partner: httpx.Client,
    client_id: str,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    first = await add_integration(sessionmaker, client_id, system="exact")
    second = await add_integration(sessionmaker, client_id, system="yuki")
    key = f"keyed-{uuid.uuid4()}"
    created = partner.post(
        "/v1/invoices", json=invoice(client_id, number="ATOM-2"), headers={"Idempotency-Key": key}
    )
    assert created.status_code == 201, created.text
    document_id = uuid.UUID(created.json()["id"])

    async with sessionmaker() as session:
        syncs = (
            await session.scalars(
                select(DocumentSync).where(DocumentSync.document_id == document_id)
            )
        ).all()
        assert {s.integration_id for s in syncs} == {first, second}
        assert {(s.status, s.generation, s.sweeps) for s in syncs} == {("pending", 0, 0)}
        events = (
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.envelope["subject"].astext == str(document_id)
                )
            )
        ).all()
        assert len(events) == 1
        targets = {t["integration_id"] for t in events[0].envelope["data"]["targets"]}
        assert targets == {str(first), str(second)}
        stored = await session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == key))
        assert stored is not None and stored.response_body == created.json()


async def test_a_stored_answer_outlives_a_late_release(
    partner: httpx.Client,
    client_id: str,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A request cancelled while its write committed releases its key on the way out:
    the release must leave the stored answer, so the client's retry is a replay."""
    key = {"Idempotency-Key": f"late-{uuid.uuid4()}"}
    body = invoice(client_id, number="ATOM-3")
    created = partner.post("/v1/invoices", json=body, headers=key)
    assert created.status_code == 201, created.text
    partner_id = await partner_of(sessionmaker, client_id)

    async with sessionmaker() as session:
        token = await session.scalar(
            select(IdempotencyKey.claim_token).where(IdempotencyKey.key == key["Idempotency-Key"])
        )
    assert token is not None
    keys = IdempotencyKeys(engine, sessionmaker, 60)
    await keys.release(partner_id, key["Idempotency-Key"], Claimed(token))

    again = partner.post("/v1/invoices", json=body, headers=key)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == created.json()


async def test_a_claim_taken_over_is_not_released_by_the_request_it_was_taken_from(
    partner: httpx.Client,
    client_id: str,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Request A claims the key and stalls past the in-flight window; request B takes the
    claim over; A then fails and releases on its way out, before B stores its answer.
    A's release must not delete B's claim, so B's answer is stored and replayed."""
    keys = IdempotencyKeys(engine, sessionmaker, 60)
    key = f"takeover-{uuid.uuid4()}"
    body = invoice(client_id, number="ATOM-4")
    parsed = DocumentIn.model_validate(body)
    digest = request_hash("POST", "/v1/invoices", parsed.model_dump(mode="json"))
    partner_id = await partner_of(sessionmaker, client_id)

    first = await keys.claim(partner_id, key, digest)
    assert isinstance(first, Claimed)
    async with sessionmaker.begin() as session:  # A stalls for 61 s, on the database clock
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == key)
            .values(created_at=func.now() - text("interval '61 seconds'"))
        )
    second = await keys.claim(partner_id, key, digest)
    assert isinstance(second, Claimed) and second != first
    await keys.release(partner_id, key, first)  # A gives up, late

    async with autocommit(engine) as connection:  # B stores as the accept path does
        new = await service.create(connection, parsed, "invoice", partner_id, max_days_ahead=366)
        out = service.to_out(new.document, new.states).model_dump(mode="json")
        answer = accept.Answer(partner_id, key, 201, out)
        await accept.store(connection, new.document, new.states, new.announcement, answer)

    replay = partner.post("/v1/invoices", json=body, headers={"Idempotency-Key": key})
    assert replay.status_code == 201, replay.text
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == out
