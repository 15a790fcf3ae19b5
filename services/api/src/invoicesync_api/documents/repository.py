"""Queries over documents and their sync states."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Exists, Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from invoicesync_api import pagination
from invoicesync_api.db.models import Document, DocumentSync
from invoicesync_shared.db.models import Integration
from invoicesync_shared.states import SyncStatus


@dataclass(frozen=True)
class DocumentFilters:
    kind: str
    partner_id: uuid.UUID
    client_id: uuid.UUID | None = None
    status: str | None = None
    sync_status: str | None = None
    booking_number: str | None = None  # "null" means: not synced anywhere
    system: str | None = None
    issued_from: date | None = None
    issued_to: date | None = None


def _sync_exists(*conditions: ColumnElement[bool]) -> Exists:
    return exists().where(DocumentSync.document_id == Document.id, *conditions)


def _filtered(f: DocumentFilters) -> Select[Document]:
    query = select(Document).where(Document.partner_id == f.partner_id, Document.kind == f.kind)
    if f.client_id:
        query = query.where(Document.client_id == f.client_id)
    if f.status:
        query = query.where(Document.status == f.status)
    if f.issued_from:
        query = query.where(Document.issue_date >= f.issued_from)
    if f.issued_to:
        query = query.where(Document.issue_date <= f.issued_to)
    if f.sync_status == SyncStatus.FAILED:
        query = query.where(Document.failed_syncs > 0)  # as the partial indexes say
    elif f.sync_status:
        query = query.where(_sync_exists(DocumentSync.status == f.sync_status))
    if f.system:
        query = query.where(
            _sync_exists(
                DocumentSync.integration_id == Integration.id, Integration.system == f.system
            )
        )
    if f.booking_number == "null":
        query = query.where(~Document.has_booking_number)  # as the partial indexes say
    elif f.booking_number:
        query = query.where(_sync_exists(DocumentSync.booking_number == f.booking_number))
    return query


async def list_documents(
    session: AsyncSession, filters: DocumentFilters, *, limit: int, cursor: str | None
) -> tuple[Sequence[Document], str | None]:
    """Newest first, keyset-paginated on (created_at, id) so pages never shift."""
    return await pagination.newest_first(
        session,
        _filtered(filters),
        created_at=Document.created_at,
        ident=Document.id,
        limit=limit,
        cursor=cursor,
    )


async def sync_states(
    session: AsyncSession, document_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[DocumentSync, Integration]]]:
    rows = await session.execute(
        select(DocumentSync, Integration)
        .join(Integration, Integration.id == DocumentSync.integration_id)
        .where(DocumentSync.document_id.in_(document_ids))
        .order_by(Integration.created_at)
    )
    states: dict[uuid.UUID, list[tuple[DocumentSync, Integration]]] = {i: [] for i in document_ids}
    for state, integration in rows:
        states[state.document_id].append((state, integration))
    return states
