"""Queries for sync runs, the results applied to sync states, and dead letters."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, distinct, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.db.models import Client, Document, DocumentSync, SyncRun, SyncRunItem
from invoicesync_api.db.owned import get_owned
from invoicesync_api.documents import fanout
from invoicesync_api.sync.numbering import same_series
from invoicesync_shared.db.models import Integration, ProcessedEvent
from invoicesync_shared.states import (
    DocumentStatus,
    FailureCode,
    IntegrationStatus,
    RunStatus,
    SyncStatus,
)

# The inbox table: its insert is a Core statement, which skips the ORM's DML work per
# result applied (nothing in it is kept in the session).
PROCESSED = cast(Table, ProcessedEvent.__table__)
DUPLICATE_LOCK_SPACE = 0x1E3A_0010  # advisory locks: (space, hash of integration and number)


async def lock_integrations(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Integration]:
    """Row locks serialise run starts, so "one run per integration" holds under races."""
    rows = await session.scalars(
        select(Integration)
        .where(Integration.id.in_(ids))
        .order_by(Integration.id)
        .with_for_update()
    )
    return list(rows)


async def running_run_for(
    session: AsyncSession, integration_ids: Sequence[uuid.UUID]
) -> SyncRun | None:
    return await session.scalar(
        select(SyncRun).where(
            SyncRun.status == RunStatus.RUNNING,
            SyncRun.integration_ids.overlap(list(integration_ids)),
        )
    )


async def documents_to_catch_up(
    session: AsyncSession, integration: Integration
) -> Sequence[Document]:
    """Booked documents the integration should have but has not booked or sent yet.

    A kind its connector refused (``kind_not_supported``) is left out: asked again every
    run it would only fail again (run counts, webhooks, notifications); ``POST …/retry``
    sends it once the connector books the kind."""
    settled = select(DocumentSync.document_id).where(
        DocumentSync.integration_id == integration.id,
        or_(
            DocumentSync.status.in_((SyncStatus.BOOKED, SyncStatus.SENT)),
            DocumentSync.error_code == FailureCode.KIND_NOT_SUPPORTED,
        ),
    )
    query = select(Document).where(
        Document.client_id == integration.client_id,
        Document.status == DocumentStatus.BOOKED,
        Document.created_at >= integration.activated_at,
        Document.id.not_in(settled),
    )
    start = fanout.start_date(integration)
    if start:
        query = query.where(Document.issue_date >= start)
    return (await session.scalars(query.order_by(Document.issue_date, Document.created_at))).all()


async def settled_pairs(
    session: AsyncSession, plan: Mapping[Document, Sequence[Integration]]
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """(document, integration) pairs of ``plan`` already booked or sent there.

    Every row of the plan's documents is locked (``FOR UPDATE``, in key order) before its
    status is read: an answer being applied now is waited for and seen, so the run never
    puts a document just booked back to pending (it would be announced booked twice)."""
    documents = [d.id for d in plan]
    if not documents:
        return set()
    rows = await session.execute(
        select(DocumentSync.document_id, DocumentSync.integration_id, DocumentSync.status)
        .where(DocumentSync.document_id.in_(documents))
        .order_by(DocumentSync.document_id, DocumentSync.integration_id)
        .with_for_update()
    )
    return {(d, i) for d, i, status in rows if status in fanout.ANSWERED}


async def run_document_count(session: AsyncSession, run_id: uuid.UUID) -> int:
    """Documents in a run (each may go to several integrations)."""
    count = await session.scalar(
        select(func.count(distinct(SyncRunItem.document_id))).where(
            SyncRunItem.sync_run_id == run_id
        )
    )
    return int(count or 0)


async def add_run(session: AsyncSession, run: SyncRun) -> None:
    """Store a new run now, so the rows that name it can follow in the same transaction."""
    session.add(run)
    await session.flush()


async def save_run(session: AsyncSession, run: SyncRun) -> None:
    """Write the run's changes now and read the stored row back."""
    await session.flush()
    await session.refresh(run)


async def get_run(session: AsyncSession, run_id: uuid.UUID, partner_id: uuid.UUID) -> SyncRun:
    return await get_owned(session, SyncRun, run_id, partner_id, "sync run")


async def list_runs(
    session: AsyncSession, partner_id: uuid.UUID, client_id: uuid.UUID | None
) -> Sequence[SyncRun]:
    """The partner's 100 newest runs, optionally of one client."""
    query = select(SyncRun).where(SyncRun.partner_id == partner_id)
    if client_id:
        query = query.where(SyncRun.client_id == client_id)
    return (await session.scalars(query.order_by(SyncRun.started_at.desc()).limit(100))).all()


async def lock_run(session: AsyncSession, run_id: uuid.UUID) -> SyncRun | None:
    return await session.get(SyncRun, run_id, with_for_update=True)


async def lock_run_item(
    session: AsyncSession, run_id: uuid.UUID, document_id: uuid.UUID, integration_id: uuid.UUID
) -> SyncRunItem | None:
    return await session.get(
        SyncRunItem, (run_id, document_id, integration_id), with_for_update=True
    )


async def active_integration_ids(
    session: AsyncSession, client_id: uuid.UUID, *, only: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """Ids of the client's active integrations (just ``only``, when given and active)."""
    query = select(Integration.id).where(
        Integration.client_id == client_id, Integration.status == IntegrationStatus.ACTIVE
    )
    if only:
        query = query.where(Integration.id == only)
    return list((await session.scalars(query)).all())


async def find_document(session: AsyncSession, document_id: uuid.UUID) -> Document | None:
    return await session.get(Document, document_id)


async def list_documents(session: AsyncSession, ids: Sequence[uuid.UUID]) -> Sequence[Document]:
    """The documents with these ids that exist, in no particular order."""
    return (await session.scalars(select(Document).where(Document.id.in_(ids)))).all()


async def is_first_time(session: AsyncSession, consumer: str, event_id: uuid.UUID) -> bool:
    """Record ``event_id`` in ``consumer``'s inbox; False when it was there already."""
    inserted = await session.scalar(
        insert(PROCESSED)
        .values(consumer=consumer, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(PROCESSED.c.event_id)
    )
    return inserted is not None


def number_key(integration_id: uuid.UUID, booking_number: str | None) -> str:
    """What the lock on a booking number of an integration is taken on."""
    return f"{integration_id}:{booking_number}"


async def lock_answered(
    session: AsyncSession,
    document_id: uuid.UUID,
    integration_id: uuid.UUID,
    *,
    booking_number: str | None = None,
) -> tuple[DocumentSync, Document, Integration, Sequence[DocumentSync]] | None:
    """The sync state an answer is for, row-locked, with its document and integration:
    one statement (the result consumer's read, per result).

    With ``booking_number`` (a booking result), also the other sync states of the
    integration holding that number in the document's series (``numbering.same_series``:
    a sales number among sales documents, a supplier's among its documents), locked too;
    two statements. The number's lock (``number_key``: the integration's, whatever the
    series, so coarser than needed, never too fine) comes first, in the read: it is
    evaluated in the join's projection, below the plan's LockRows, and the read locks no
    row then. Then the state and the
    holders are locked together in document order, the order a sync run locks them
    (``settled_pairs``): locking the state first and its holders after would let a run
    naming both, or a holder's own answer, wait in a circle with this one
    (test_duplicate_numbers_concurrent). Two documents given one number at once: the
    second looks after the first committed, as this statement's snapshot is taken once
    the number's lock is held."""
    query = (
        select(DocumentSync, Document, Integration)
        .join(Document, Document.id == DocumentSync.document_id)
        .join(Integration, Integration.id == DocumentSync.integration_id)
        .where(
            DocumentSync.document_id == document_id,
            DocumentSync.integration_id == integration_id,
        )
    )
    if booking_number is None:
        row = (await session.execute(query.with_for_update(of=DocumentSync))).first()
        return None if row is None else (row[0], row[1], row[2], ())
    key = number_key(integration_id, booking_number)
    lock = func.pg_advisory_xact_lock(DUPLICATE_LOCK_SPACE, func.hashtext(key))
    row = (await session.execute(query.add_columns(lock))).first()
    if row is None:
        return None
    series = same_series(row[1], row[2].system)
    locked = await session.scalars(
        select(DocumentSync)
        .join(Document, Document.id == DocumentSync.document_id)
        .where(
            DocumentSync.integration_id == integration_id,
            or_(
                DocumentSync.document_id == document_id,
                and_(DocumentSync.booking_number == booking_number, series),
            ),
        )
        .order_by(DocumentSync.document_id)
        .with_for_update(of=DocumentSync)  # the documents' rows are not ours to lock
        .execution_options(populate_existing=True)  # the state as locked, not as read
    )
    rows = locked.all()
    state = row[0]
    if state not in rows:  # gone meanwhile
        return None
    return state, row[1], row[2], [s for s in rows if s is not state]


async def list_dead_letters(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    integration_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
) -> list[tuple[DocumentSync, Document, Integration]]:
    """Sync states whose retries ran out, of active integrations, oldest document first
    (at most 5,000)."""
    query = (
        select(DocumentSync, Document, Integration)
        .join(Document, Document.id == DocumentSync.document_id)
        .join(Integration, Integration.id == DocumentSync.integration_id)
        .where(
            Document.partner_id == partner_id,
            DocumentSync.status.in_((SyncStatus.FAILED, SyncStatus.AMBIGUOUS)),
            DocumentSync.error_retryable.is_(True),
            # Entries that may be ours wait for a person's retry, not a bulk replay.
            DocumentSync.error_code.is_distinct_from(FailureCode.AMBIGUOUS_MATCH),
            Integration.status == IntegrationStatus.ACTIVE,
        )
        .order_by(Document.created_at)
        .limit(5000)
    )
    if integration_id:
        query = query.where(Integration.id == integration_id)
    if client_id:
        query = query.where(Document.client_id == client_id)
    return [(s, d, i) for s, d, i in await session.execute(query)]


async def try_xact_lock(session: AsyncSession, lock_id: int) -> bool:
    """Take the transaction-level advisory lock ``lock_id`` if no one holds it."""
    return bool(await session.scalar(select(func.pg_try_advisory_xact_lock(lock_id))))


async def list_nightly_integrations(session: AsyncSession) -> list[tuple[Integration, Client]]:
    """Active integrations with nightly sync on, each with its client (for the time zone)."""
    rows = await session.execute(
        select(Integration, Client)
        .join(Client, Client.id == Integration.client_id)
        .where(Integration.nightly_sync.is_(True), Integration.status == IntegrationStatus.ACTIVE)
    )
    return [(integration, client) for integration, client in rows]


async def last_nightly_start(session: AsyncSession, integration_id: uuid.UUID) -> datetime | None:
    """When the integration's latest nightly run started, or None."""
    return await session.scalar(
        select(func.max(SyncRun.started_at)).where(
            SyncRun.trigger == "nightly", SyncRun.integration_ids.contains([integration_id])
        )
    )
