"""Asking the connectors to push a document: sync rows plus one outbox event.

The fan-out rule, for every path that writes them (the accept path's own statements in
documents/accept.py, and the ORM here): only a booked document is sent; only integrations
that were connected before the document was created take part (``takes_part``); a document
dated before an integration's ``start_date`` is not sent to it: its sync row says so
(``failed``, ``before_start_date``, not retryable) and it is no target of the event.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import BindParameter, ColumnElement, Table, and_, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.db.models import Client, Document, DocumentSync
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.documents import (
    BOOKED_EVENTS,
    PURCHASE_KINDS,
    CompanyData,
    DocumentSnapshot,
    DocumentSyncRequested,
    DocumentUpdated,
    SyncTarget,
)
from invoicesync_shared.outbox import writer as outbox
from invoicesync_shared.outbox.writer import OutboxRow
from invoicesync_shared.states import DocumentStatus, FailureCode, IntegrationStatus, SyncStatus

SOURCE = "/api"
INTEGRATIONS = cast(Table, Integration.__table__)


# What a connector answered for good within a generation: asked again only for an edit.
ANSWERED = (SyncStatus.BOOKED, SyncStatus.SENT)
# The systems an edit of a booked or sent document is pushed to again.
TAKES_EDITS = ("yuki",)
# Connected, though perhaps broken or paused for now: a document created meanwhile is
# theirs too. It waits `pending` (no request goes out) and is sent when the user connects
# again or resumes.
CONNECTED = (
    IntegrationStatus.ACTIVE,
    IntegrationStatus.PAUSED,
    IntegrationStatus.NEEDS_REAUTHORIZATION,
    IntegrationStatus.ERROR,
)

# Our own constants, as SQL literals.
CONNECTED_SQL: list[ColumnElement[str]] = [
    literal_column(f"'{status.value}'") for status in CONNECTED
]


def takes_edits(integration: Integration, document: Document) -> bool:
    """Whether an edit of the document is pushed to the integration again: Yuki replaces a
    sales entry by a push; a purchase document sits in its archive as uploaded."""
    return integration.system in TAKES_EDITS and document.kind not in PURCHASE_KINDS


def is_sent(document: Document) -> bool:
    """Whether the document goes to the client's integrations at all: a draft goes nowhere
    (it has no sync rows, and which integrations the client has does not matter to it)."""
    return document.status == DocumentStatus.BOOKED


def takes_part(
    created_at: datetime | BindParameter[datetime], columns: Any = INTEGRATIONS.c
) -> ColumnElement[bool]:
    """An integration books a document if it was connected before the document was
    created and is not deactivated; a broken connection keeps it waiting, never skips it.

    On columns (the table's, or a CTE's over it), so every statement shares the rule.
    The statuses are written into the SQL: a list of bound values would be expanded into
    the statement at every execution (the accept path's cost is per statement)."""
    return and_(columns.status.in_(CONNECTED_SQL), columns.activated_at <= created_at)


def reachable(integration: Integration) -> bool:
    """Whether a request can go to the integration's connector now (active): a broken
    one's rows wait, pending, until it is connected again (``connection.resume``)."""
    return integration.status == IntegrationStatus.ACTIVE


async def eligible_integrations(
    session: AsyncSession, client_id: uuid.UUID, created_at: datetime
) -> Sequence[Integration]:
    """Held (``FOR KEY SHARE``, all of the client's, whatever their status) until the
    transaction ends: a relink or deactivation (which locks the row to change it) waits
    for it, or it waits for that and sees the new status."""
    held = await session.execute(
        select(Integration, takes_part(created_at))
        .where(Integration.client_id == client_id)
        .order_by(Integration.id)
        .with_for_update(read=True, key_share=True)
        .execution_options(populate_existing=True)
    )
    return [integration for integration, taking_part in held if taking_part]


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
            "file": document.file,  # a reference only: the bytes stay in document_files
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


def start_date(integration: Integration) -> date | None:
    """The first issue date the integration books (its settings' ``start_date``)."""
    value = (integration.settings or {}).get("start_date")
    return date.fromisoformat(str(value)) if value else None


def ask(state: DocumentSync, document: Document, integration: Integration) -> DocumentSync:
    """``pending`` for a new request — unless the row is new (or was held back before)
    and the document is dated before the integration's start date: then it is not sent,
    and the row says why and what to do. A row with a request out, an outcome unknown,
    look-alikes or an entry in the books is asked as always: a start date moved later
    must not disown what may be booked already."""
    start = start_date(integration)
    fresh = state.status is None or state.error_code == FailureCode.BEFORE_START_DATE
    if start is None or document.issue_date >= start or not fresh:
        return pending(state)
    pending(state).status = SyncStatus.FAILED
    state.error_code, state.error_retryable = FailureCode.BEFORE_START_DATE, False
    state.error_message = (
        f"Dated {document.issue_date.isoformat()}, before this integration's start date "
        f"({start.isoformat()}): not sent. To book it there, move the integration's "
        f"start_date (PATCH /v1/integrations/{integration.id}) to or before its date, "
        "then retry it."
    )
    return state


def edit_waiting(state: DocumentSync, integration: Integration) -> bool:
    """Whether asking for the row pushes an edit: it is in the books in this generation
    (a new generation forgets what was answered) of a system that takes edits. An edit made
    while the connection was broken waits as such; asked as a new document on reconnect,
    the connector would find it booked and leave the books' older version."""
    in_books = state.remote_id is not None or state.sent_at is not None
    return integration.system in TAKES_EDITS and in_books


def asked(state: DocumentSync) -> bool:
    """Whether the row asks its connector for a push (is a target of the event)."""
    return state.error_code != FailureCode.BEFORE_START_DATE


def pending(state: DocumentSync) -> DocumentSync:
    """A new request: pending again, no error, no wait (the connector says again if the
    budget is still spent), and the sweeper counts its re-requests anew.
    An outcome still unknown stays ``ambiguous`` (it may be booked; the connector looks it
    up first): asking again changes nothing a person sees until the outcome is known."""
    if state.status == SyncStatus.AMBIGUOUS and state.error_code == FailureCode.OUTCOME_UNKNOWN:
        state.sweeps = 0
        return state
    state.status = SyncStatus.PENDING
    state.sweeps = 0
    state.error_code = state.error_message = state.error_retryable = None
    state.waiting_until = state.waiting_reason = None
    return state


def new_state(document: Document, integration: Integration) -> DocumentSync:
    """The document's first sync row in the integration (generation 0), not yet asked."""
    return DocumentSync(document_id=document.id, integration_id=integration.id, generation=0)


def new_states(
    document: Document, integrations: Sequence[Integration]
) -> list[tuple[DocumentSync, Integration]]:
    """The sync rows of a document just created (none can exist yet), not yet stored."""
    return [(ask(new_state(document, i), document, i), i) for i in integrations]


@dataclass(frozen=True)
class FanOut:
    """What sending a new document writes besides it: its sync rows, and the outbox row of
    the event asking the connectors (None when no row asks a reachable connector)."""

    states: list[tuple[DocumentSync, Integration]]
    announcement: OutboxRow | None


def fan_out_new(document: Document, client: Client, integrations: Sequence[Integration]) -> FanOut:
    """The fan-out of a document just created, to the ``integrations`` taking part in it
    (``takes_part``, as its creation's read found them); nothing for a draft."""
    if not is_sent(document):
        return FanOut([], None)
    states = new_states(document, integrations)
    return FanOut(states, announce(document, client, states))


def sync_event(
    document: Document,
    client: Client,
    states: Sequence[tuple[DocumentSync, Integration]],
    *,
    event_type: type[DocumentSyncRequested] | None = None,
    sync_run_id: uuid.UUID | None = None,
) -> DocumentSyncRequested | None:
    """The event asking each integration of ``states`` to push the document (those its
    rows ask); None if none."""
    targets = [
        SyncTarget(integration_id=i.id, system=i.system, generation=state.generation)
        for state, i in states
        if asked(state) and reachable(i)
    ]
    if not targets:
        return None
    cls = event_type or BOOKED_EVENTS[document.kind]
    return cls(document=snapshot(document, client), targets=targets, sync_run_id=sync_run_id)


def announcement(document: Document, event: DocumentSyncRequested) -> OutboxRow:
    """The outbox row of ``event``: keyed by client, so one client's events keep their order."""
    return outbox.row(event, subject=str(document.id), key=str(document.client_id), source=SOURCE)


def announce(
    document: Document,
    client: Client,
    states: Sequence[tuple[DocumentSync, Integration]],
    *,
    event_type: type[DocumentSyncRequested] | None = None,
    sync_run_id: uuid.UUID | None = None,
) -> OutboxRow | None:
    """The outbox row of the event asking for ``states`` (``sync_event``); None if none."""
    event = sync_event(document, client, states, event_type=event_type, sync_run_id=sync_run_id)
    return announcement(document, event) if event is not None else None


async def request_sync(
    session: AsyncSession,
    document: Document,
    client: Client,
    integrations: Sequence[Integration],
    *,
    event_type: type[DocumentSyncRequested] | None = None,
    sync_run_id: uuid.UUID | None = None,
) -> list[tuple[DocumentSync, Integration]]:
    """Mark the document pending in each integration and stage the event; returns the
    sync rows asked (not those answered meanwhile, unless this is an edit)."""
    states = []
    for integration in integrations:
        # Locked and read afresh: an answer applied since the caller looked (a sync run's
        # plan, a resume's list) is kept, not overwritten by "pending" and then asked for,
        # and announced, a second time. Only an edit asks again what is booked or sent.
        state = await session.get(
            DocumentSync,
            (document.id, integration.id),
            with_for_update=True,
            populate_existing=True,
        )
        if state is None:
            state = new_state(document, integration)
            session.add(state)
        elif state.status in ANSWERED and event_type is not DocumentUpdated:
            continue
        ask(state, document, integration).requested_at = func.now()  # as the sweeper compares
        states.append((state, integration))
    edits = [(s, i) for s, i in states if event_type is None and edit_waiting(s, i)]
    others = [pair for pair in states if pair not in edits]
    for asking, kind in ((edits, DocumentUpdated), (others, event_type)):
        row = announce(document, client, asking, event_type=kind, sync_run_id=sync_run_id)
        if row is not None:
            outbox.add_row(session, row)
    return states
