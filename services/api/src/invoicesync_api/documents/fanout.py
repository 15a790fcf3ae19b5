"""Asking the connectors to push a document: sync rows plus one outbox event.

Only integrations that were active before the document was created take part.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.db.models import Client, Document, DocumentSync
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.documents import (
    CompanyData,
    CreditNoteBooked,
    DocumentSnapshot,
    DocumentSyncRequested,
    InvoiceBooked,
    SyncTarget,
)
from invoicesync_shared.outbox import writer as outbox

SOURCE = "/api"


def takes_part(created_at: datetime) -> ColumnElement[bool]:
    """An integration pushes a document if it was active before the document was created."""
    return and_(Integration.status == "active", Integration.activated_at <= created_at)


async def eligible_integrations(
    session: AsyncSession, client_id: uuid.UUID, created_at: datetime
) -> Sequence[Integration]:
    return (
        await session.scalars(
            select(Integration).where(Integration.client_id == client_id, takes_part(created_at))
        )
    ).all()


def snapshot(document: Document, client: Client) -> DocumentSnapshot:
    return DocumentSnapshot.model_validate(
        {
            "id": document.id,
            "partner_id": document.partner_id,
            "client_id": document.client_id,
            "kind": document.kind,
            "external_id": document.external_id,
            "number": document.number,
            "issue_date": document.issue_date,
            "due_date": document.due_date,
            "currency": document.currency,
            "customer": document.customer,
            "lines": document.lines,
            "net_total": document.net_total,
            "vat_total": document.vat_total,
            "gross_total": document.gross_total,
            "credit_note_for": document.credit_note_for,
            "revision": document.revision,
            "company": CompanyData(
                name=client.name,
                vat_number=client.vat_number,
                company_number=client.company_number,
                address=client.address,
                country=client.country,
                email=client.email,
            ),
        }
    )


async def request_sync(
    session: AsyncSession,
    document: Document,
    client: Client,
    integrations: Sequence[Integration],
    *,
    event_type: type[DocumentSyncRequested] | None = None,
    sync_run_id: uuid.UUID | None = None,
    is_new: bool = False,
) -> list[tuple[DocumentSync, Integration]]:
    """Mark the document pending in each integration and stage the event; returns the
    sync rows. ``is_new``: the document was just created, so no row can exist yet."""
    targets, states = [], []
    for integration in integrations:
        state = None if is_new else await session.get(DocumentSync, (document.id, integration.id))
        if state is None:
            state = DocumentSync(
                document_id=document.id, integration_id=integration.id, generation=0
            )
            session.add(state)
        state.status = "pending"
        state.sweeps = 0  # a new request; the sweeper counts its own re-requests
        state.error_code = state.error_message = state.error_retryable = None
        states.append((state, integration))
        targets.append(
            SyncTarget(
                integration_id=integration.id,
                system=integration.system,
                generation=state.generation,
            )
        )
    if not targets:
        return states
    cls = event_type or (InvoiceBooked if document.kind == "invoice" else CreditNoteBooked)
    event = cls(document=snapshot(document, client), targets=targets, sync_run_id=sync_run_id)
    outbox.add(session, event, subject=str(document.id), key=str(document.client_id), source=SOURCE)
    return states
