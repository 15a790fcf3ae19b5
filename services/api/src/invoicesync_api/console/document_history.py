"""/console/documents/{id}/history: a document's way into each accounting system, in
time order, from what is stored anyway (no event log of its own): the document, the
connectors' ledger (each push, its attempts and outcome, a new generation after a reset
or repair) and the sync state (the last request, the current outcome, the payment)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from invoicesync_api.console import history_repository, repository
from invoicesync_api.console.i18n import Translator
from invoicesync_api.console.labels import LABELS, PAYMENT_LABELS, system_names
from invoicesync_api.console.router import ConsoleRoute, ViewerDep, _page, _sync_error
from invoicesync_api.db.models import Document, DocumentSync
from invoicesync_api.deps import SessionDep
from invoicesync_api.documents import service as document_service
from invoicesync_shared.db.models import Integration, LedgerEntry
from invoicesync_shared.events.documents import DocumentKind

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


@dataclass(frozen=True)
class Event:
    at: datetime | None
    # received, pushed, pushed_again, retried, booked, sent, refused, requested, state, payment
    kind: str
    text: str
    system: str | None = None
    detail: str | None = None


def _pushes(t: Translator, entry: LedgerEntry, system: str) -> list[Event]:
    """One ledger entry: the push, its repeated attempts, and how it ended."""
    s = {"system": system}
    first = entry.generation == 0
    events = [
        Event(
            entry.created_at,
            "pushed" if first else "pushed_again",
            (
                t.gettext("Sent to %(system)s")
                if first
                else t.gettext("Sent again to %(system)s after a reset")
            )
            % s,
            system,
        )
    ]
    if entry.attempts > 1:
        events.append(
            Event(
                entry.updated_at,
                "retried",
                t.gettext("Tried again: %(count)s attempts in all") % {"count": entry.attempts},
                system,
            )
        )
    ended = entry.sent_at or entry.updated_at
    if entry.state == "booked":
        text = t.gettext("Booked in %(system)s as %(number)s") % {
            **s,
            "number": entry.booking_number or "—",
        }
        events.append(Event(ended, "booked", text, system))
    elif entry.state == "sent":
        events.append(Event(ended, "sent", t.gettext("Delivered to %(system)s") % s, system))
    elif entry.state == "failed":
        text = t.gettext("Refused by %(system)s") % s
        events.append(Event(entry.updated_at, "refused", text, system, entry.last_error))
    return events


def _state(
    t: Translator, state: DocumentSync, integration: Integration, document: Document, system: str
) -> list[Event]:
    """What the sync state adds: the last request, where it stands now, the payment."""
    s = {"system": system}
    events = []
    if state.requested_at is not None:
        text = t.gettext("Asked to send to %(system)s") % s
        events.append(Event(state.requested_at, "requested", text, system))
    label = t.gettext(LABELS.get(state.status, state.status))
    now = t.gettext("Now in %(system)s: %(status)s") % {**s, "status": label}
    error = _sync_error(t.locale, state, integration, document) if state.error_message else None
    events.append(Event(state.answered_at or state.updated_at, "state", now, system, error))
    if state.payment_status:
        payment = t.gettext(PAYMENT_LABELS.get(state.payment_status, state.payment_status))
        text = t.gettext("Payment in %(system)s: %(status)s") % {**s, "status": payment}
        events.append(Event(state.updated_at, "payment", text, system))
    return events


def _in_order(events: list[Event]) -> list[Event]:
    """Oldest first; a tie keeps the order they were told in (push before outcome)."""
    return sorted(events, key=lambda e: (e.at is None, e.at or datetime.min))


@router.get("/documents/{document_id}/history", response_class=HTMLResponse)
async def history_page(
    request: Request,
    document_id: uuid.UUID,
    viewer: ViewerDep,
    db: SessionDep,
    kind: DocumentKind = "invoice",
) -> Response:
    t = viewer.t
    document = await document_service.get_document(db, document_id, viewer.caller.partner_id, kind)
    states = await history_repository.states(db, document)
    names = system_names([i for i, _ in states], t.gettext)
    entries = await history_repository.ledger(db, document.id, [i.id for i, _ in states])
    events = [Event(document.created_at, "received", t.gettext("Received by invoicesync"))]
    by_id = {i.id: i for i, _ in states}
    for entry in entries:
        events += _pushes(t, entry, names[entry.integration_id])
    for integration, state in states:
        if state is not None:
            events += _state(t, state, by_id[integration.id], document, names[integration.id])
    return _page(
        request,
        "history.html",
        t,
        viewer=viewer,
        unread=await repository.count_unread(db, viewer.caller.partner_id),
        document=document,
        kind=kind,
        events=_in_order(events),
    )
