"""The console's own queries: what its pages show for many rows at once, where the API's
repositories answer one row at a time (one statement per page instead of one per row)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import case, func, literal, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from invoicesync_api.console.health import Activity
from invoicesync_api.db.models import Client, Document, DocumentSync, Notification, SyncRunItem
from invoicesync_api.sync.duplicates import MISSING
from invoicesync_shared.db.models import Integration
from invoicesync_shared.states import IntegrationStatus, SyncStatus

_IN_FLIGHT = (SyncStatus.PENDING, SyncStatus.SENDING)
_NOT_SYNCED = (*_IN_FLIGHT, SyncStatus.FAILED, SyncStatus.AMBIGUOUS)


async def integrations_of(
    session: AsyncSession, client_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Integration]]:
    """Each client's integrations, oldest first (as ``integrations.list_for_client``)."""
    by_client: dict[uuid.UUID, list[Integration]] = {c: [] for c in client_ids}
    rows = await session.scalars(
        select(Integration)
        .where(Integration.client_id.in_(client_ids))
        .order_by(Integration.created_at, Integration.id)
    )
    for integration in rows:
        by_client[integration.client_id].append(integration)
    return by_client


async def activity_of(
    session: AsyncSession, integration_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Activity]:
    """What each integration's documents are doing: the unsettled statuses counted (the
    index on (integration_id, status) answers) and the soonest budget wait."""
    counts: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    rows = await session.execute(
        select(DocumentSync.integration_id, DocumentSync.status, func.count())
        .where(
            DocumentSync.integration_id.in_(integration_ids),
            DocumentSync.status.in_(_NOT_SYNCED),
        )
        .group_by(DocumentSync.integration_id, DocumentSync.status)
    )
    for integration_id, status, count in rows:
        counts[integration_id][status] = count
    waits = await session.execute(
        select(
            DocumentSync.integration_id,
            func.min(DocumentSync.waiting_until),
            func.min(DocumentSync.waiting_reason),
        )
        .where(
            DocumentSync.integration_id.in_(integration_ids),
            DocumentSync.waiting_until.is_not(None),
        )
        .group_by(DocumentSync.integration_id)
    )
    waiting = {i: (until, reason) for i, until, reason in waits}
    activity: dict[uuid.UUID, Activity] = {}
    for integration_id in integration_ids:
        c = counts.get(integration_id, {})
        until, reason = waiting.get(integration_id, (None, None))
        activity[integration_id] = Activity(
            in_flight=sum(c.get(s, 0) for s in _IN_FLIGHT),
            not_synced=sum(c.values()),
            failed=c.get(SyncStatus.FAILED, 0),
            waiting_until=until,
            waiting_reason=reason,
        )
    return activity


async def count_unread(session: AsyncSession, partner_id: uuid.UUID) -> int:
    """The number on the bell."""
    return int(
        await session.scalar(
            select(func.count()).where(
                Notification.partner_id == partner_id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


async def run_documents(session: AsyncSession, run_id: uuid.UUID, limit: int) -> Sequence[Document]:
    """The documents a run sends (its items name each once per integration), by number."""
    chosen = select(SyncRunItem.document_id).where(SyncRunItem.sync_run_id == run_id)
    rows = await session.scalars(
        select(Document).where(Document.id.in_(chosen)).order_by(Document.number).limit(limit)
    )
    return rows.all()


_PROBLEMS = (SyncStatus.FAILED, SyncStatus.AMBIGUOUS)
# Sends per cause (code and accounting system): each with its document, integration and
# client name.
ByCause = dict[tuple[str, str], list[tuple[DocumentSync, Document, Integration, str]]]
ATTENTION = (
    IntegrationStatus.NEEDS_REAUTHORIZATION,
    IntegrationStatus.ERROR,
    IntegrationStatus.PAUSED,
)


async def failure_counts(
    session: AsyncSession, partner_id: uuid.UUID
) -> dict[tuple[str, str], int]:
    """How many documents could not be sent, per error code and accounting system,
    across the partner's clients: from the partial index of the problems (a sync's
    integration is of its document's client, so of the same partner), never from the
    partner's documents."""
    rows = await session.execute(
        select(
            DocumentSync.error_code,
            Integration.system,
            func.count(DocumentSync.document_id.distinct()),
        )
        .join(Integration, Integration.id == DocumentSync.integration_id)
        .where(Integration.partner_id == partner_id, DocumentSync.status.in_(_PROBLEMS))
        .group_by(DocumentSync.error_code, Integration.system)
    )
    return {(code or "", system): count for code, system, count in rows}


async def failures(session: AsyncSession, partner_id: uuid.UUID, limit: int) -> ByCause:
    """The ``limit`` latest failed sends of each cause (error code and accounting system),
    latest answer first, with their document, integration and client name: over the
    partial index of the problems (which carries the answer's time)."""
    code = func.coalesce(DocumentSync.error_code, "")
    _, by_cause = await _latest_per_cause(
        session, partner_id, limit, code, DocumentSync.status.in_(_PROBLEMS)
    )
    return by_cause


# Booked, but flagged for the repair: a number another document holds, or an entry deleted
# in the accounting system (the partial index ix_document_syncs_flagged).
# The code is written into the statement, not bound: a prepared statement's generic plan
# can use the partial index only when its predicate is visible.
_FLAGGED = or_(
    DocumentSync.duplicate_of.is_not(None),
    DocumentSync.error_code == literal_column(f"'{MISSING}'"),
)
DUPLICATE = "duplicate_booking_number"
_FLAGGED_CODE = case(
    (DocumentSync.duplicate_of.is_not(None), literal(DUPLICATE)), else_=literal(MISSING)
)


async def flagged(
    session: AsyncSession, partner_id: uuid.UUID, limit: int
) -> tuple[dict[tuple[str, str], int], ByCause]:
    """The sends the duplicate-number repair is for, as the inbox's causes: how many per
    cause (``duplicate_booking_number`` or ``remote_entry_missing``) and system, and the
    ``limit`` latest of each, with their document, integration and client name. Failed
    sends are left to ``failures`` (one cause each)."""
    not_failed = DocumentSync.status.not_in(_PROBLEMS)
    return await _latest_per_cause(session, partner_id, limit, _FLAGGED_CODE, _FLAGGED, not_failed)


async def _latest_per_cause(
    session: AsyncSession,
    partner_id: uuid.UUID,
    limit: int,
    cause: ColumnElement[str],
    *where: ColumnElement[bool],
) -> tuple[dict[tuple[str, str], int], ByCause]:
    """How many of the partner's sends matching ``where`` each cause and accounting
    system has, and its ``limit`` latest (latest answer first) with their document,
    integration and client name: one statement ranking within each cause, not one per
    cause over the partner's documents."""
    latest = (DocumentSync.answered_at.desc().nulls_last(), DocumentSync.document_id)
    per_cause = (cause, Integration.system)
    ranked = (
        select(
            DocumentSync.document_id,
            DocumentSync.integration_id,
            cause.label("cause"),
            func.row_number().over(partition_by=per_cause, order_by=latest).label("rank"),
            func.count().over(partition_by=per_cause).label("total"),
        )
        .join(Integration, Integration.id == DocumentSync.integration_id)
        .where(Integration.partner_id == partner_id, *where)
        .subquery()
    )
    rows = await session.execute(
        select(DocumentSync, Document, Integration, Client.name, ranked.c.cause, ranked.c.total)
        .join(
            ranked,
            (ranked.c.document_id == DocumentSync.document_id)
            & (ranked.c.integration_id == DocumentSync.integration_id),
        )
        .join(Document, Document.id == DocumentSync.document_id)
        .join(Integration, Integration.id == DocumentSync.integration_id)
        .join(Client, Client.id == Document.client_id)
        .where(ranked.c.rank <= limit)
        .order_by(*latest)
    )
    counts: dict[tuple[str, str], int] = {}
    by_cause: ByCause = {}
    for s, d, i, name, code, total in rows:
        counts[code, i.system] = int(total)
        by_cause.setdefault((code, i.system), []).append((s, d, i, name))
    return counts, by_cause


async def integrations_needing_attention(
    session: AsyncSession, partner_id: uuid.UUID
) -> Sequence[tuple[Integration, str]]:
    """Integrations a person must act on (reconnect, fix, resume), with the client's name."""
    rows = await session.execute(
        select(Integration, Client.name)
        .join(Client, Client.id == Integration.client_id)
        .where(Client.partner_id == partner_id, Integration.status.in_(ATTENTION))
        .order_by(Client.name, Integration.created_at)
    )
    return [(i, name) for i, name in rows]
