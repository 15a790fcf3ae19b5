"""A document created booked is written by the accept path's own statement
(documents/accept.py); a draft booked later through the ORM (``service.sync_new``). For the
same document and integrations both must write the same rows: the same integrations take
part, their sync rows carry the same columns, and the outbox row is the same event.

Each path writes in a transaction of its own that is rolled back after its rows are read,
so both write the very same document (same id), and the rows compare column by column.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

import httpx
import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Client, Document, DocumentSync
from invoicesync_api.documents import accept, service
from invoicesync_api.documents.schemas import DocumentIn
from invoicesync_shared.db.engine import autocommit
from invoicesync_shared.db.models import Integration, OutboxMessage
from tests.integration.api.conftest import add_integration, invoice

DOCUMENTS = cast(Table, Document.__table__)
SYNCS = cast(Table, DocumentSync.__table__)
OUTBOX = cast(Table, OutboxMessage.__table__)
# Set by the database for every outbox row, whoever writes it.
OUTBOX_DATABASE_COLUMNS = ("id", "write_xid", "created_at")
# Set to the writing transaction's time (the database clock, which the sweeper compares).
SYNC_CLOCK_COLUMNS = ("requested_at", "updated_at")


async def one_of_each_case(
    sessionmaker: async_sessionmaker[AsyncSession], client_id: str
) -> dict[str, uuid.UUID]:
    """An integration for each case the fan-out rule tells apart."""
    now = datetime.now(UTC)
    ids = {
        "asked": await add_integration(sessionmaker, client_id, system="exact"),
        "too_early": await add_integration(sessionmaker, client_id, system="yuki"),
        "reauthorize": await add_integration(
            sessionmaker, client_id, system="lexware", status="needs_reauthorization"
        ),
        "error": await add_integration(sessionmaker, client_id, system="exact", status="error"),
        "connected_after": await add_integration(
            sessionmaker, client_id, system="yuki", activated_at=now + timedelta(hours=1)
        ),
        "unauthorized": await add_integration(
            sessionmaker, client_id, system="exact", status="pending_authorization"
        ),
        "deactivated": await add_integration(
            sessionmaker, client_id, system="lexware", status="deactivated"
        ),
    }
    async with sessionmaker.begin() as session:  # starts after the document's issue date
        too_early = await session.get(Integration, ids["too_early"])
        assert too_early is not None
        too_early.settings = {**too_early.settings, "start_date": "2026-12-01"}
    return ids


async def rows_written(connection: AsyncConnection, document_id: uuid.UUID) -> dict[str, Any]:
    """The document's row, its sync rows and its outbox rows, read in the transaction that
    wrote them; what differs by the moment or by chance is compared to what it must be."""
    now = await connection.scalar(select(func.now()))
    document = (
        (await connection.execute(select(DOCUMENTS).where(DOCUMENTS.c.id == document_id)))
        .mappings()
        .one()
    )
    syncs = (
        (
            await connection.execute(
                select(SYNCS)
                .where(SYNCS.c.document_id == document_id)
                .order_by(SYNCS.c.integration_id)
            )
        )
        .mappings()
        .all()
    )
    events = (
        (
            await connection.execute(
                select(OUTBOX)
                .where(OUTBOX.c.envelope["subject"].astext == str(document_id))
                .order_by(OUTBOX.c.id)
            )
        )
        .mappings()
        .all()
    )
    return {
        "document": dict(document),
        "syncs": [{**s, **{c: s[c] == now for c in SYNC_CLOCK_COLUMNS}} for s in syncs],
        "events": [_event(dict(e)) for e in events],
    }


def _event(row: dict[str, Any]) -> dict[str, Any]:
    """The row with what is new for each event left out: its id, made at random, is the
    envelope's; its time is the clock's; the order of its targets carries no meaning."""
    envelope = dict(row.pop("envelope"))
    assert envelope.pop("id") == str(row.pop("event_id"))
    assert datetime.fromisoformat(envelope.pop("time"))
    data = dict(envelope.pop("data"))
    data["targets"] = sorted(data["targets"], key=lambda target: target["integration_id"])
    for column in OUTBOX_DATABASE_COLUMNS:
        assert row.pop(column) is not None
    return {**row, "envelope": envelope, "data": data}


async def partner_of(sessionmaker: async_sessionmaker[AsyncSession], client_id: str) -> uuid.UUID:
    async with sessionmaker() as session:
        client = await session.get(Client, uuid.UUID(client_id))
    assert client is not None
    return client.partner_id


@pytest.mark.parametrize("kind", ["invoice", "credit_note"])
async def test_the_fast_path_and_the_orm_path_write_the_same_rows(
    kind: Literal["invoice", "credit_note"],
    partner: httpx.Client,
    client_id: str,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ids = await one_of_each_case(sessionmaker, client_id)
    partner_id = await partner_of(sessionmaker, client_id)
    body = DocumentIn.model_validate(invoice(client_id, number=f"PATHS-{kind}"))
    async with autocommit(engine) as connection:
        new = await service.create(connection, body, kind, partner_id, max_days_ahead=366)
    document = new.document

    async with engine.connect() as connection, connection.begin() as transaction:
        assert await accept.store(connection, document, new.states, new.announcement, None)
        fast = await rows_written(connection, document.id)
        await transaction.rollback()

    async with sessionmaker() as session, session.begin() as transaction:
        session.add(document)
        client = await session.get(Client, document.client_id)
        assert client is not None
        await service.sync_new(session, document, client)
        await session.flush()
        orm = await rows_written(await session.connection(), document.id)
        await transaction.rollback()

    taking_part = {ids[name] for name in ("asked", "too_early", "reauthorize", "error")}
    assert {s["integration_id"] for s in fast["syncs"]} == taking_part
    assert [t["integration_id"] for e in fast["events"] for t in e["data"]["targets"]] == [
        str(ids["asked"])
    ]
    assert orm == fast
