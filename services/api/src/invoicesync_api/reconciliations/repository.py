"""SQL of reconciliations: the resource, the entries a connector read, our documents."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.db.models import (
    Client,
    Document,
    DocumentSync,
    Reconciliation,
    ReconciliationEntry,
)
from invoicesync_api.db.owned import get_owned
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.documents import SALES_KINDS
from invoicesync_shared.states import (
    DocumentStatus,
    FailureCode,
    IntegrationStatus,
    RunStatus,
    SyncStatus,
)


async def get(
    session: AsyncSession, reconciliation_id: uuid.UUID, partner_id: uuid.UUID
) -> Reconciliation:
    return await get_owned(session, Reconciliation, reconciliation_id, partner_id, "reconciliation")


async def lock(session: AsyncSession, reconciliation_id: uuid.UUID) -> Reconciliation | None:
    return await session.get(Reconciliation, reconciliation_id, with_for_update=True)


async def running_for(session: AsyncSession, integration_id: uuid.UUID) -> Reconciliation | None:
    return await session.scalar(
        select(Reconciliation).where(
            Reconciliation.integration_id == integration_id,
            Reconciliation.status == RunStatus.RUNNING,
        )
    )


async def save_entries(
    session: AsyncSession, reconciliation_id: uuid.UUID, entries: Sequence[dict[str, Any]]
) -> int:
    """Keep each entry once (a repeated chunk overwrites); returns how many are kept."""
    if entries:
        statement = insert(ReconciliationEntry).values(
            [
                {"reconciliation_id": reconciliation_id, "remote_id": e["remote_id"], "entry": e}
                for e in entries
            ]
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["reconciliation_id", "remote_id"],
                set_={"entry": statement.excluded.entry},
            )
        )
    return int(
        await session.scalar(
            select(func.count()).where(ReconciliationEntry.reconciliation_id == reconciliation_id)
        )
        or 0
    )


async def entries(session: AsyncSession, reconciliation_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(ReconciliationEntry.entry).where(
            ReconciliationEntry.reconciliation_id == reconciliation_id
        )
    )
    return list(rows)


async def drop_entries(session: AsyncSession, reconciliation_id: uuid.UUID) -> None:
    await session.execute(
        delete(ReconciliationEntry).where(
            ReconciliationEntry.reconciliation_id == reconciliation_id
        )
    )


async def documents_of_period(
    session: AsyncSession, integration_id: uuid.UUID, client_id: uuid.UUID, start: date, end: date
) -> list[tuple[Document, DocumentSync]]:
    """The client's booked documents dated in the period that this integration books
    (it has their sync state; not those dated before its start date)."""
    rows = await session.execute(
        select(Document, DocumentSync)
        .join(DocumentSync, DocumentSync.document_id == Document.id)
        .where(
            DocumentSync.integration_id == integration_id,
            Document.client_id == client_id,
            Document.status == DocumentStatus.BOOKED,
            Document.issue_date.between(start, end),
            DocumentSync.error_code.is_distinct_from(FailureCode.BEFORE_START_DATE),
            # The connectors read the sales books back; purchase documents are not booked
            # by any of them yet (issue 24), so they are no difference to report.
            Document.kind.in_(sorted(SALES_KINDS)),
        )
        .order_by(Document.issue_date, Document.number)
    )
    return [(d, s) for d, s in rows]


async def lock_sync_state(
    session: AsyncSession, document_id: uuid.UUID, integration_id: uuid.UUID
) -> DocumentSync | None:
    return await session.get(
        DocumentSync,
        (document_id, integration_id),
        with_for_update=True,
        populate_existing=True,
    )


async def new_generation(session: AsyncSession, document: Document, state: DocumentSync) -> None:
    """Forget what the integration's connector answered for the document (as a reset
    from a date does for one document): the next request is a new generation, which the
    connector looks up before it pushes."""
    state.status = SyncStatus.PENDING
    state.booking_number = state.remote_id = state.sent_at = state.payment_status = None
    state.error_code = state.error_message = state.error_retryable = None
    state.duplicate_of = state.waiting_until = state.waiting_reason = None
    state.generation += 1
    await session.flush()
    others = await session.scalar(
        select(func.count()).where(
            DocumentSync.document_id == document.id, DocumentSync.booking_number.is_not(None)
        )
    )
    document.has_booking_number = bool(others)


async def nightly_due(session: AsyncSession) -> list[tuple[Integration, Client]]:
    """Active integrations with nightly reconciliation on, each with its client."""
    rows = await session.execute(
        select(Integration, Client)
        .join(Client, Client.id == Integration.client_id)
        .where(
            Integration.nightly_reconciliation_days > 0,
            Integration.status == IntegrationStatus.ACTIVE,
        )
    )
    return [(integration, client) for integration, client in rows]


async def last_nightly_start(session: AsyncSession, integration_id: uuid.UUID) -> datetime | None:
    """When the integration's latest nightly reconciliation started, if it ever did."""
    return await session.scalar(
        select(func.max(Reconciliation.started_at)).where(
            Reconciliation.integration_id == integration_id, Reconciliation.trigger == "nightly"
        )
    )
