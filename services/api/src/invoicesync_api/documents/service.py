"""Document rules: creation with totals, booking drafts, edits per system, retries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from invoicesync_api.db.models import Client, Document, DocumentSync
from invoicesync_api.documents import accept, fanout, repository, rules, totals
from invoicesync_api.documents.files import NewFile
from invoicesync_api.documents.schemas import (
    DocumentFields,
    DocumentOut,
    DocumentPatchFields,
    LineIn,
    PurchaseDocumentOut,
    SyncError,
    SyncStateOut,
    TotalsOut,
)
from invoicesync_api.errors.exceptions import Conflict, NotFound, Unprocessable
from invoicesync_api.i18n.catalog import N_, gettext
from invoicesync_api.i18n.sync_errors import sync_error_message
from invoicesync_api.integrations import brake
from invoicesync_shared import clock
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.documents import CREDITS, PURCHASE_KINDS, DocumentUpdated
from invoicesync_shared.outbox.writer import OutboxRow
from invoicesync_shared.states import DocumentStatus, IntegrationStatus, SyncStatus

ALREADY_NUMBERED = {
    "invoice": N_("This client already has an invoice numbered {number}."),
    "credit_note": N_("This client already has a credit note numbered {number}."),
    "purchase_invoice": N_("This client already has a purchase invoice numbered {number}."),
    "purchase_credit_note": N_("This client already has a purchase credit note numbered {number}."),
    "receipt": N_("This client already has a receipt numbered {number}."),
}
NO_SUCH = {
    "invoice": N_("No such invoice."),
    "credit_note": N_("No such credit note."),
    "purchase_invoice": N_("No such purchase invoice."),
    "purchase_credit_note": N_("No such purchase credit note."),
    "receipt": N_("No such receipt."),
}
NOT_A_CREDITED_DOCUMENT = {
    "credit_note": N_("credit_note_for must be the id of an invoice of the same client."),
    "purchase_credit_note": N_(
        "credit_note_for must be the id of a purchase invoice of the same client."
    ),
}
SYNCED = (SyncStatus.BOOKED, SyncStatus.SENT)
YUKI_EDIT_WARNING = N_(
    "The change is pushed to Yuki again; cost centres and projects set on its lines in "
    "Yuki will be reset."
)
# Whole sentences (translated where the answer is written, to_out).
NOT_PUSHED_WARNINGS = {
    "exact": N_(
        "This document is already synced to Exact Online; the change is NOT pushed there. "
        "Edit it in the accounting system as well."
    ),
    "lexware": N_(
        "This document is already synced to Lexware Office; the change is NOT pushed there. "
        "Edit it in the accounting system as well."
    ),
}
# A request that went out before the edit carries the version before it.
ON_ITS_WAY = (SyncStatus.PENDING, SyncStatus.SENDING)
ON_ITS_WAY_WARNINGS = {
    "exact": N_(
        "This document was already on its way to Exact Online before this change and may be "
        "booked as it was; the change is NOT pushed there. Check the entry in Exact Online "
        "once it is booked."
    ),
    "lexware": N_(
        "This document was already on its way to Lexware Office before this change and may be "
        "booked as it was; the change is NOT pushed there. Check the voucher in Lexware Office "
        "once it is booked."
    ),
    "yuki": N_(
        "This purchase document was already on its way to Yuki's archive before this change; "
        "the change is NOT pushed there. Edit it in Yuki as well once it is there."
    ),
}
# Yuki books a purchase document from the file uploaded into its archive, which takes no
# change of an upload (README: Yuki).
YUKI_PURCHASE_NOT_PUSHED = N_(
    "This purchase document is already in Yuki's archive; the change is NOT pushed there. "
    "Edit it in Yuki as well."
)


def _on_its_way_warning(system: str) -> str:
    return ON_ITS_WAY_WARNINGS.get(
        system,
        f"This document was already on its way to {system} before this change and may be "
        "booked as it was; the change is NOT pushed there. Check the entry in the accounting "
        "system once it is booked.",
    )


def _not_pushed_warning(system: str) -> str:
    return NOT_PUSHED_WARNINGS.get(
        system,
        f"This document is already synced to {system}; the change is NOT pushed there. "
        "Edit it in the accounting system as well.",
    )


async def get_document(
    session: AsyncSession,
    document_id: uuid.UUID,
    partner_id: uuid.UUID,
    kind: str,
    *,
    lock: bool = False,
) -> Document:
    document = await session.get(Document, document_id, with_for_update=lock)
    if document is None or document.partner_id != partner_id or document.kind != kind:
        raise NotFound(NO_SUCH[kind])
    return document


def _lines_json(lines: list[LineIn]) -> list[dict[str, Any]]:
    out = []
    for line in lines:
        net, vat = totals.line_amounts(line)
        out.append({**line.model_dump(mode="json"), "net_amount": str(net), "vat_amount": str(vat)})
    return out


async def _check_credited_invoice(
    connection: AsyncConnection, body: DocumentFields, kind: str, partner_id: uuid.UUID
) -> None:
    credited_kind = CREDITS.get(kind)
    if credited_kind is None:
        if body.credit_note_for is not None:
            raise Unprocessable(N_("credit_note_for is only for credit notes."))
        return
    if body.credit_note_for is None:
        return
    client_id = await accept.credited_invoice(
        connection, body.credit_note_for, partner_id=partner_id, kind=credited_kind
    )
    if client_id != body.client_id:
        raise Unprocessable(NOT_A_CREDITED_DOCUMENT[kind])


def _check(body: DocumentFields, max_days_ahead: int) -> totals.Totals:
    """The checks of a new document that need no database: its dates and totals."""
    rules.check_dates(
        {"issue_date": body.issue_date, "due_date": body.due_date},
        max_days_ahead=max_days_ahead,
        issue_date=body.issue_date,
    )
    computed = totals.compute(body.lines)
    totals.check_declared(computed, body.totals)
    return computed


@dataclass(frozen=True)
class NewDocument:
    """A document built from a POST, with its sync rows and event, not yet stored."""

    document: Document
    states: list[tuple[DocumentSync, Integration]]
    announcement: OutboxRow | None  # None for a draft, or when no connector is asked
    file: NewFile | None = None  # a purchase document's original file


async def create(
    connection: AsyncConnection,
    body: DocumentFields,
    kind: str,
    partner_id: uuid.UUID,
    *,
    max_days_ahead: int,
    claim: accept.Claim | None = None,
    file: NewFile | None = None,
) -> NewDocument:
    """Check a new document against the rules and build what storing it writes.

    With ``claim``, its key is claimed by the read (raises accept.KeyTaken if it is taken)
    before the document is checked: a replay answers what was stored, whatever the checks
    would say today. Without, the checks that need no database come first."""
    computed = _check(body, max_days_ahead) if claim is None else None
    now = clock.now()
    found = await accept.context(
        connection,
        client_id=body.client_id,
        partner_id=partner_id,
        kind=kind,
        number=body.number,
        party_key=body.party.external_id,
        now=now,
        claim=claim,
    )
    computed = computed or _check(body, max_days_ahead)
    if found is None:
        raise NotFound(N_("No such client."))
    if found.duplicate_id is not None:
        raise Conflict(
            ALREADY_NUMBERED[kind],
            params={"number": repr(body.number)},
            extra={"existing_id": str(found.duplicate_id)},
        )
    await _check_credited_invoice(connection, body, kind, partner_id)
    document = Document(
        id=uuid.uuid4(),
        partner_id=partner_id,
        client_id=body.client_id,
        kind=kind,
        external_id=body.external_id,
        number=body.number,
        status=body.status,
        issue_date=body.issue_date,
        due_date=body.due_date,
        currency=body.currency,
        customer=body.party.model_dump(mode="json"),  # the counterparty, whatever the kind
        lines=_lines_json(body.lines),
        net_total=computed.net,
        vat_total=computed.vat,
        gross_total=computed.gross,
        credit_note_for=body.credit_note_for,
        file=file.ref() if file is not None else None,
        revision=0,
        booked_at=now if body.status == DocumentStatus.BOOKED.value else None,  # a Literal
        # Set here, not by the database: the answer needs no read-back.
        created_at=now,
        updated_at=now,
        has_booking_number=False,
        failed_syncs=0,  # failed sync rows inserted with it count themselves (a trigger)
    )
    fan_out = fanout.fan_out_new(document, found.client, found.integrations)
    return NewDocument(document, fan_out.states, fan_out.announcement, file)


async def sync_new(
    session: AsyncSession, document: Document, client: Client
) -> list[tuple[DocumentSync, Integration]]:
    """The ORM path of a document sent for the first time (a draft booked): the sync rows
    and event the accept path writes in its own statement (documents/accept.py) for a
    document created booked."""
    integrations = await fanout.eligible_integrations(session, client.id, document.created_at)
    return await fanout.request_sync(session, document, client, integrations)


async def book(session: AsyncSession, document: Document) -> Document:
    if document.status == DocumentStatus.BOOKED:
        return document  # booking twice is harmless: nothing is sent again
    document.status = DocumentStatus.BOOKED
    document.booked_at = clock.now()
    client = await session.get(Client, document.client_id)
    assert client is not None
    await sync_new(session, document, client)
    return document


async def patch(
    session: AsyncSession,
    document: Document,
    body: DocumentPatchFields,
    *,
    max_days_ahead: int,
) -> list[str]:
    """Apply an edit; returns the warnings the answer must carry. The body's own fields
    were checked by its schema; the dates, which need the clock, here as on creation."""
    rules.check_dates(
        {"due_date": body.due_date}, max_days_ahead=max_days_ahead, issue_date=document.issue_date
    )
    if "due_date" in body.model_fields_set:
        document.due_date = body.due_date
    if body.party is not None:
        document.customer = body.party.model_dump(mode="json")

    if body.lines is not None:
        computed = totals.compute(body.lines)
        totals.check_declared(computed, body.totals)
        document.lines = _lines_json(body.lines)
        document.net_total, document.vat_total, document.gross_total = (
            computed.net,
            computed.vat,
            computed.gross,
        )
    document.revision += 1
    return await _push_edit(session, document)


async def _push_edit(session: AsyncSession, document: Document) -> list[str]:
    """Push the edit where it is in the books and edits are taken. A request still on its
    way carries the version before the edit: where edits are taken, its answer brings the
    edit after it (sync/results.py); elsewhere the books may keep that version."""
    warnings: list[str] = []
    to_push: list[Integration] = []
    for state, integration in (await repository.sync_states(session, [document.id]))[document.id]:
        if state.status in ON_ITS_WAY and fanout.reachable(integration):
            if fanout.takes_edits(integration, document):
                warnings.append(YUKI_EDIT_WARNING)
            else:
                warnings.append(_on_its_way_warning(integration.system))
            continue
        if state.status not in SYNCED:
            continue
        if integration.system in fanout.TAKES_EDITS and document.kind in PURCHASE_KINDS:
            warnings.append(YUKI_PURCHASE_NOT_PUSHED)
        elif integration.system in fanout.TAKES_EDITS:
            to_push.append(integration)
            warnings.append(YUKI_EDIT_WARNING)
        else:
            warnings.append(_not_pushed_warning(integration.system))
    if to_push:
        client = await session.get(Client, document.client_id)
        assert client is not None
        await fanout.request_sync(session, document, client, to_push, event_type=DocumentUpdated)
    return warnings


async def retry(session: AsyncSession, document: Document) -> int:
    """Send again where the last attempt failed or its outcome is unknown."""
    if document.status != DocumentStatus.BOOKED:
        raise Unprocessable(N_("A draft is not synced; book it first."))
    states = (await repository.sync_states(session, [document.id]))[document.id]
    failed = [
        integration
        for state, integration in states
        if state.status in (SyncStatus.FAILED, SyncStatus.AMBIGUOUS)
    ]
    if not failed:
        raise Conflict(N_("Nothing to retry: no integration has this document failed."))
    client = await session.get(Client, document.client_id)
    assert client is not None
    await fanout.request_sync(session, document, client, failed)
    return len(failed)


def localised_answer(answer: dict[str, Any], language: str) -> dict[str, Any]:
    """A document answer as JSON (the accept's, or its stored replay: English) with its
    sync errors in ``language``."""
    if language == "en" or not isinstance(answer.get("sync"), list):
        return answer
    sync = []
    for state in answer["sync"]:
        error = state.get("error")
        if isinstance(error, dict):
            message = sync_error_message(
                language,
                error.get("code"),
                error.get("message"),
                system=state.get("system"),
                booking_number=state.get("booking_number"),
            )
            state = {**state, "error": {**error, "message": message}}
        sync.append(state)
    return {**answer, "sync": sync}


def _sync_out(state: DocumentSync, integration: Integration, language: str) -> SyncStateOut:
    error = None
    if state.error_code:
        message = sync_error_message(
            language,
            state.error_code,
            state.error_message or "",
            system=integration.system,
            booking_number=state.booking_number,
        )
        error = SyncError(
            code=state.error_code, message=message or "", retryable=bool(state.error_retryable)
        )
    return SyncStateOut(
        integration_id=integration.id,
        system=integration.system,
        status=state.status,
        booking_number=state.booking_number,
        remote_id=state.remote_id,
        sent_at=state.sent_at,
        payment_status=state.payment_status,
        error=error,
        duplicate_of=state.duplicate_of,
        waiting_until=state.waiting_until,
        waiting_reason=state.waiting_reason or _paused(state, integration),
    )


def _paused(state: DocumentSync, integration: Integration) -> str | None:
    """A pending document of a paused integration waits for its resume (the failure brake)."""
    held = state.status == SyncStatus.PENDING and integration.status == IntegrationStatus.PAUSED
    return brake.WAITING_REASON if held else None


def to_out(
    document: Document,
    states: list[tuple[DocumentSync, Integration]],
    warnings: list[str] | None = None,
    *,
    language: str = "en",
) -> DocumentOut | PurchaseDocumentOut:
    """The document as answered; messages in ``language`` (the codes stay as they are).
    A purchase document names its counterparty ``supplier`` and has its ``file``."""
    sync = [_sync_out(s, i, language) for s, i in states]
    booking_number = next((s.booking_number for s in sync if s.booking_number), None)
    purchase = document.kind in PURCHASE_KINDS
    model: type[DocumentOut | PurchaseDocumentOut] = (
        PurchaseDocumentOut if purchase else DocumentOut
    )
    party = (
        {"supplier": document.customer, "file": document.file}
        if purchase
        else {"customer": document.customer}
    )
    return model.model_validate(
        {
            **party,
            "id": document.id,
            "kind": document.kind,
            "client_id": document.client_id,
            "external_id": document.external_id,
            "number": document.number,
            "status": document.status,
            "issue_date": document.issue_date,
            "due_date": document.due_date,
            "currency": document.currency,
            "lines": document.lines,
            "totals": TotalsOut(
                net=document.net_total, vat=document.vat_total, gross=document.gross_total
            ),
            "credit_note_for": document.credit_note_for,
            "booking_number": booking_number,
            "sync": sync,
            "created_at": document.created_at,
            "updated_at": document.updated_at,
            "warnings": [gettext(language, w) for w in warnings or []],
        }
    )
