"""Queries for sync runs."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.db.models import Document, DocumentSync, SyncRun, SyncRunItem
from invoicesync_api.documents import fanout
from invoicesync_shared.db.models import Integration
from invoicesync_shared.states import DocumentStatus, SyncStatus


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
            SyncRun.status == "running", SyncRun.integration_ids.overlap(list(integration_ids))
        )
    )


async def documents_to_catch_up(
    session: AsyncSession, integration: Integration
) -> Sequence[Document]:
    """Booked documents the integration should have but has not booked or sent yet."""
    settled = select(DocumentSync.document_id).where(
        DocumentSync.integration_id == integration.id,
        DocumentSync.status.in_((SyncStatus.BOOKED, SyncStatus.SENT)),
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
