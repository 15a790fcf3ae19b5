"""Queries over integrations and the sync states they hold."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.db.models import Document, DocumentSync
from invoicesync_api.db.owned import get_owned
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.documents import SALES_KINDS
from invoicesync_shared.states import IntegrationStatus, SyncStatus


def add_integration(session: AsyncSession, integration: Integration) -> None:
    """Put a new integration in the session; it is written at the next flush or commit."""
    session.add(integration)


async def save_integration(session: AsyncSession, integration: Integration) -> None:
    """Write the integration's changes now and read the stored row back."""
    await session.flush()
    await session.refresh(integration)


async def delete_integration(session: AsyncSession, integration: Integration) -> None:
    await session.delete(integration)


async def read_again(session: AsyncSession, integration: Integration) -> None:
    """Read the stored row afresh (after an UPDATE that bypassed the session)."""
    await session.refresh(integration)


async def count_failure(
    session: AsyncSession, integration_id: uuid.UUID, code: str
) -> tuple[int, int] | None:
    """Count one permanent failure for ``code`` on an active integration in one UPDATE
    (the same code adds one, another starts again at one); returns the run's length and
    ``failure_brake_after``, or None when the integration is not active (failure brake)."""
    streak = Integration.failure_streak_count
    counted = (
        await session.execute(
            update(Integration)
            .where(Integration.id == integration_id, Integration.status == IntegrationStatus.ACTIVE)
            .values(
                failure_streak_count=case(
                    (Integration.failure_streak_code == code, streak + 1), else_=1
                ),
                failure_streak_code=code,
            )
            .returning(streak, Integration.failure_brake_after)
            .execution_options(synchronize_session=False)
        )
    ).first()
    return None if counted is None else (counted[0], counted[1])


async def end_failure_run(session: AsyncSession, integration_id: uuid.UUID) -> None:
    """Forget an active integration's run of failures, if it has one (failure brake)."""
    await session.execute(
        update(Integration)
        .where(
            Integration.id == integration_id,
            Integration.status == IntegrationStatus.ACTIVE,
            Integration.failure_streak_count > 0,
        )
        .values(failure_streak_count=0, failure_streak_code=None)
        .execution_options(synchronize_session=False)
    )


async def lock(session: AsyncSession, integration: Integration) -> None:
    """Hold the row (``FOR UPDATE``, read afresh) before changing whether the integration
    takes part: a document being accepted holds it too (``FOR KEY SHARE``), so one waits
    for the other and neither misses the change (documents/accept.py)."""
    await session.flush()  # what this transaction changed already is read back, not lost
    await session.refresh(integration, with_for_update=True)


async def get_integration(
    session: AsyncSession, integration_id: uuid.UUID, partner_id: uuid.UUID
) -> Integration:
    return await get_owned(session, Integration, integration_id, partner_id, "integration")


async def find_integration(session: AsyncSession, integration_id: uuid.UUID) -> Integration | None:
    return await session.get(Integration, integration_id)


async def find_locked(session: AsyncSession, integration_id: uuid.UUID) -> Integration | None:
    """The integration, row-locked (``FOR UPDATE``) for this transaction, or None."""
    return await session.get(Integration, integration_id, with_for_update=True)


async def hold_for_counting(session: AsyncSession, integration_id: uuid.UUID) -> None:
    """Hold the row for a change of its counters (``FOR NO KEY UPDATE``: documents being
    accepted, which hold it ``FOR KEY SHARE``, go on), before any sync state is locked:
    the order a sync run takes them in (integrations, then sync states)."""
    await session.execute(
        select(Integration.id)
        .where(Integration.id == integration_id)
        .with_for_update(key_share=True)
    )


async def find_by_state_hash(session: AsyncSession, state_hash: str) -> Integration | None:
    """The integration waiting for this OAuth state, row-locked: the state is single-use."""
    return await session.scalar(
        select(Integration).where(Integration.oauth_state_hash == state_hash).with_for_update()
    )


async def list_for_client(session: AsyncSession, client_id: uuid.UUID) -> Sequence[Integration]:
    rows = await session.scalars(
        select(Integration)
        .where(Integration.client_id == client_id)
        .order_by(Integration.created_at)
    )
    return rows.all()


async def status_counts(session: AsyncSession, integration_id: uuid.UUID) -> dict[str, int]:
    rows = await session.execute(
        select(DocumentSync.status, func.count())
        .where(DocumentSync.integration_id == integration_id)
        .group_by(DocumentSync.status)
    )
    return {status: count for status, count in rows}


async def soonest_wait(
    session: AsyncSession, integration_id: uuid.UUID
) -> tuple[datetime, str] | None:
    """The soonest end of a wait among its pending documents, and why (the partial index
    on waiting rows answers it)."""
    row = (
        await session.execute(
            select(DocumentSync.waiting_until, DocumentSync.waiting_reason)
            .where(
                DocumentSync.integration_id == integration_id,
                DocumentSync.waiting_until.is_not(None),
            )
            .order_by(DocumentSync.waiting_until)
            .limit(1)
        )
    ).first()
    if row is None or row[0] is None:
        return None
    return row[0], row[1] or ""


async def list_waiting_documents(
    session: AsyncSession, integration_id: uuid.UUID
) -> Sequence[Document]:
    """Documents whose sync to the integration is pending, oldest first."""
    rows = await session.scalars(
        select(Document)
        .join(DocumentSync, DocumentSync.document_id == Document.id)
        .where(
            DocumentSync.integration_id == integration_id, DocumentSync.status == SyncStatus.PENDING
        )
        .order_by(Document.created_at)
    )
    return rows.all()


async def list_paused(session: AsyncSession, limit: int) -> Sequence[Integration]:
    """Integrations the failure brake paused, longest paused first (by last change)."""
    rows = await session.scalars(
        select(Integration)
        .where(Integration.status == IntegrationStatus.PAUSED)
        .order_by(Integration.updated_at)
        .limit(limit)
    )
    return rows.all()


async def oldest_waiting_document(
    session: AsyncSession, integration_id: uuid.UUID
) -> Document | None:
    """The document that would be sent first once the integration sends again, of the
    kinds the connectors book (the API cannot ask which: today all book the sales kinds).
    A pending purchase document would be refused for its kind, whatever paused the
    integration, so its preview says nothing about the cause being gone."""
    row = await session.scalars(
        select(Document)
        .join(DocumentSync, DocumentSync.document_id == Document.id)
        .where(
            DocumentSync.integration_id == integration_id,
            DocumentSync.status == SyncStatus.PENDING,
            Document.kind.in_(sorted(SALES_KINDS)),
        )
        .order_by(Document.created_at)
        .limit(1)
    )
    return row.first()


async def reset_from(session: AsyncSession, integration: Integration, from_date: date) -> int:
    """Forget the sync state of documents dated on or after ``from_date``; a new
    generation makes the connector push them again (after looking them up)."""
    dated = select(Document.id).where(Document.issue_date >= from_date)
    result = await session.execute(
        update(DocumentSync)
        .where(DocumentSync.integration_id == integration.id, DocumentSync.document_id.in_(dated))
        .values(
            status=SyncStatus.PENDING,
            booking_number=None,
            remote_id=None,
            sent_at=None,
            payment_status=None,
            error_code=None,
            error_message=None,
            error_retryable=None,
            duplicate_of=None,
            waiting_until=None,
            waiting_reason=None,
            generation=DocumentSync.generation + 1,
        )
    )
    # Their booking numbers here are gone; another integration's may remain.
    numbered = select(DocumentSync.document_id).where(
        DocumentSync.document_id == Document.id, DocumentSync.booking_number.is_not(None)
    )
    await session.execute(
        update(Document)
        .where(Document.id.in_(dated), Document.has_booking_number)
        .where(
            Document.id.in_(
                select(DocumentSync.document_id).where(
                    DocumentSync.integration_id == integration.id
                )
            )
        )
        .values(has_booking_number=numbered.exists())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def count_synced_from(
    session: AsyncSession, integration_id: uuid.UUID, from_date: date
) -> int:
    """Documents dated on or after ``from_date`` with a sync state here: what
    ``reset_from`` would reset (the repair's confirmation shows it first)."""
    count = await session.scalar(
        select(func.count())
        .select_from(DocumentSync)
        .join(Document, Document.id == DocumentSync.document_id)
        .where(DocumentSync.integration_id == integration_id, Document.issue_date >= from_date)
    )
    return int(count or 0)


async def count_duplicates(session: AsyncSession, integration_id: uuid.UUID) -> int:
    """Documents flagged with a booking number another document holds, or whose entry
    was deleted in the accounting system."""
    count = await session.scalar(
        select(func.count())
        .select_from(DocumentSync)
        .where(
            DocumentSync.integration_id == integration_id,
            or_(
                DocumentSync.duplicate_of.is_not(None),
                DocumentSync.error_code == "remote_entry_missing",
            ),
        )
    )
    return int(count or 0)


async def first_duplicate_date(session: AsyncSession, integration_id: uuid.UUID) -> date | None:
    """The earliest issue date among documents flagged as duplicates or deleted remotely."""
    return await session.scalar(
        select(func.min(Document.issue_date))
        .join(DocumentSync, DocumentSync.document_id == Document.id)
        .where(
            DocumentSync.integration_id == integration_id,
            or_(
                DocumentSync.duplicate_of.is_not(None),
                DocumentSync.error_code == "remote_entry_missing",
            ),
        )
    )
