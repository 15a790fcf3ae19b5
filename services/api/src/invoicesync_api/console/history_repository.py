"""What the database already knows of one document's way into each accounting system:
its sync state per integration and the connectors' ledger (one entry per push
generation, kept by the connectors). Read only; both found by primary key."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.db.models import Document, DocumentSync
from invoicesync_shared.db.models import Integration, LedgerEntry


async def states(
    session: AsyncSession, document: Document
) -> Sequence[tuple[Integration, DocumentSync | None]]:
    """Every integration of the document's client, oldest first, with the document's
    state there (None: it never took part)."""
    rows = await session.execute(
        select(Integration, DocumentSync)
        .outerjoin(
            DocumentSync,
            (DocumentSync.integration_id == Integration.id)
            & (DocumentSync.document_id == document.id),
        )
        .where(Integration.client_id == document.client_id)
        .order_by(Integration.created_at, Integration.id)
    )
    return [(integration, state) for integration, state in rows]


async def ledger(
    session: AsyncSession, document_id: uuid.UUID, integration_ids: Sequence[uuid.UUID]
) -> Sequence[LedgerEntry]:
    """The connectors' pushes of the document, per integration and generation (the
    ledger's key starts with both, so the few rows are found by index)."""
    rows = await session.scalars(
        select(LedgerEntry)
        .where(
            LedgerEntry.integration_id.in_(integration_ids),
            LedgerEntry.document_id == document_id,
        )
        .order_by(LedgerEntry.created_at, LedgerEntry.generation)
    )
    return rows.all()
