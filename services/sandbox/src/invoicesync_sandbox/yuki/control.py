"""Yuki's control plane (/_sandbox/yuki): what a Yuki user or a test does outside the API.

Administrations and keys (grant, withdraw, revoke), periods, cost centres, payments,
invoices typed, changed or deleted by hand, sessions, switches and stats.
"""

from __future__ import annotations

import datetime as dt
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, model_validator

from invoicesync_sandbox.entry_page import entry_page, missing_page
from invoicesync_sandbox.yuki import archive
from invoicesync_sandbox.yuki.masterdata import next_contact_code
from invoicesync_sandbox.yuki.store import (
    Administration,
    AnswerForm,
    ArchiveDocument,
    Contact,
    Document,
    DuplicateMode,
    Line,
    Store,
    new_guid,
)

CENT = Decimal("0.01")


class AdministrationIn(BaseModel):
    name: str = "Sandbox BV"
    access_key: str | None = None  # reuse a key to give it a second administration


class PeriodIn(BaseModel):
    """A month (year + month) or every day up to and including ``until``."""

    year: int | None = Field(default=None, ge=1900, le=2999)
    month: int | None = Field(default=None, ge=1, le=12)
    until: date | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> PeriodIn:
        if (self.year is None) != (self.month is None) or (self.year is None) == (
            self.until is None
        ):
            raise ValueError("give either year and month, or until")
        return self


class ProcessIn(BaseModel):
    reference: str | None = Field(default=None, max_length=50)
    contact_name: str = Field(default="", max_length=255)


class CostCentresIn(BaseModel):
    reference: str
    cost_centre: str | None = None
    project: str | None = None
    lines: list[int] | None = None  # line indexes (0-based); all lines when omitted


class PaymentIn(BaseModel):
    reference: str
    amount: Decimal | None = None  # the whole open amount when omitted


class TypedInvoiceIn(BaseModel):
    """A sales invoice a Yuki user types in Yuki itself (booked at once): one line; the
    reference is Yuki's own number unless one is typed; the contact is found by name or
    created. None of our marker unless the subject is copied from one of ours."""

    contact: str = Field(min_length=1)
    date: dt.date
    net_amount: Decimal
    vat_percentage: Decimal = Field(default=Decimal("21"), ge=0, le=100)  # percent
    reference: str | None = Field(default=None, min_length=1, max_length=50)
    subject: str = "Invoice"


class InvoiceEditIn(BaseModel):
    """What a Yuki user changes on a booked invoice: its date, its contact (by name), or
    one line's amount excluding VAT (the VAT follows the line's rate)."""

    date: dt.date | None = None
    contact: str | None = None
    line: int = Field(default=0, ge=0)
    net_amount: Decimal | None = None


class DuplicateModeIn(BaseModel):
    mode: DuplicateMode


class AnswersIn(BaseModel):
    """How imports are answered: stock (the default) or with the sandbox's extensions."""

    identifiers: bool = False
    form: AnswerForm = "elements"


class AccessIn(BaseModel):
    """Grant a key (a new one when ``access_key`` is omitted) access to an administration,
    or withdraw it (``granted: false``; the key itself keeps working)."""

    access_key: str | None = None
    granted: bool = True


class KeyIn(BaseModel):
    access_key: str


class ExpireIn(BaseModel):
    session_id: str | None = None
    access_key: str | None = None


class LifetimeIn(BaseModel):
    seconds: float = Field(gt=0)


def document_state(admin: Administration, doc: Document) -> dict[str, Any]:
    contact = next((c for c in admin.contacts if c.id == doc.contact_id), None)
    return {
        "document_id": doc.document_id,
        "item_id": doc.item_id,
        "reference": doc.reference,
        "booking_number": doc.booking_number,
        "subject": doc.subject,
        "date": doc.date.isoformat(),
        "due_date": doc.due_date.isoformat(),
        "processed": doc.processed,
        "version": doc.version,
        "contact": None
        if contact is None
        else {"id": contact.id, "code": contact.code, "name": contact.name},
        "net": str(doc.net),
        "vat": str(doc.vat),
        "gross": str(doc.gross),
        "open_amount": None if doc.open_amount is None else str(doc.open_amount),
        "lines": [
            {
                "description": line.description,
                "quantity": str(line.quantity),
                "net": str(line.net),
                "vat": str(line.vat),
                "vat_percentage": str(line.vat_percentage),
                "vat_type": line.vat_type,
                "gl_account": line.gl_account,
                "cost_centre": line.cost_centre,
                "project": line.project,
            }
            for line in doc.lines
        ],
    }


def _contact_named(admin: Administration, name: str) -> Contact:
    wanted = " ".join(name.split()).casefold()
    for contact in admin.contacts:
        if " ".join(contact.name.split()).casefold() == wanted:
            return contact
    contact = Contact(id=new_guid(), code=next_contact_code(admin), name=name.strip())
    admin.contacts.append(contact)
    return contact


def _vat(net: Decimal, percentage: Decimal) -> Decimal:
    return (net * percentage / 100).quantize(CENT, ROUND_HALF_UP)


def archive_state(doc: ArchiveDocument) -> dict[str, Any]:
    """An uploaded file as the bookkeeper sees it in the archive (without its bytes)."""
    return {
        "document_id": doc.id,
        "file_name": doc.file_name,
        "content_type": doc.content_type,
        "size": len(doc.data),
        "folder": doc.folder,
        "currency": doc.currency,
        "amount": None if doc.amount is None else str(doc.amount),
        "cost_category": doc.cost_category,
        "payment_method": doc.payment_method,
        "project": doc.project,
        "remarks": doc.remarks,
        "reference": doc.reference,
        "contact_name": doc.contact_name,
    }


def administration_state(admin: Administration) -> dict[str, Any]:
    return {
        "administration_id": admin.id,
        "name": admin.name,
        "duplicate_mode": admin.duplicate_mode,
        "answers": {"identifiers": admin.identifiers_in_answers, "form": admin.answer_form},
        "closed_months": sorted(f"{y}-{m:02d}" for y, m in admin.closed_months),
        "closed_until": admin.closed_until.isoformat() if admin.closed_until else None,
        "calls": dict(admin.calls),  # SOAP calls per operation naming this administration
        "documents": [document_state(admin, d) for d in admin.documents.values()],
        "archive": [archive_state(d) for d in admin.archive.values()],
        "contacts": [vars(c) for c in admin.contacts],
        "products": [
            {**vars(p), "price": str(p.price), "vat_percentage": str(p.vat_percentage)}
            for p in admin.products.values()
        ],
    }


def _periods(admin: Administration) -> dict[str, Any]:
    return {
        "closed_months": sorted(f"{y}-{m:02d}" for y, m in admin.closed_months),
        "closed_until": admin.closed_until.isoformat() if admin.closed_until else None,
    }


class YukiControl:
    """Handlers of the control plane; ``router()`` mounts them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def router(self) -> APIRouter:
        router = APIRouter(tags=["control: yuki"])
        admin_path = "/administrations/{admin_id}"
        routes: list[tuple[str, Any, str, int]] = [
            ("/administrations", self.create_administration, "POST", 201),
            (admin_path, self.inspect, "GET", 200),
            (f"{admin_path}/documents", self.documents, "GET", 200),
            (f"{admin_path}/documents", self.type_invoice, "POST", 201),
            (f"{admin_path}/documents/{{reference}}/edit", self.edit_invoice, "POST", 200),
            (f"{admin_path}/documents/{{reference}}", self.delete_invoice, "DELETE", 200),
            (f"{admin_path}/documents/{{document_id}}", self.show_document, "GET", 200),
            (f"{admin_path}/periods/close", self.close_period, "POST", 200),
            (f"{admin_path}/periods/open", self.open_period, "POST", 200),
            (f"{admin_path}/cost-centres", self.set_cost_centres, "POST", 200),
            (f"{admin_path}/payments", self.register_payment, "POST", 200),
            (f"{admin_path}/duplicate-mode", self.duplicate_mode, "PUT", 200),
            (f"{admin_path}/answers", self.answers, "PUT", 200),
            (f"{admin_path}/access", self.set_access, "POST", 200),
            (f"{admin_path}/archive/{{document_id}}/process", self.process, "POST", 200),
            ("/keys/revoke", self.revoke_key, "POST", 200),
            ("/sessions/expire", self.expire, "POST", 200),
            ("/sessions/lifetime", self.lifetime, "PUT", 200),
            ("/stats", self.stats, "GET", 200),
            ("/stats", self.reset_stats, "DELETE", 204),
        ]
        for path, handler, method, status in routes:
            router.add_api_route(path, handler, methods=[method], status_code=status)
        return router

    def _admin(self, admin_id: str) -> Administration:
        admin = self.store.administrations.get(admin_id.lower())
        if admin is None:
            raise HTTPException(404, "no such administration")
        return admin

    @staticmethod
    def _doc(admin: Administration, reference: str) -> Document:
        doc = admin.documents.get(reference)
        if doc is None:
            raise HTTPException(404, f"no document with reference {reference!r}")
        return doc

    def show_document(self, admin_id: str, document_id: str) -> HTMLResponse:
        """The document's page in "Yuki" (read-only), by its DocumentID or reference: the
        console's link to it."""
        title = "Yuki: sales invoice"
        with self.store.lock:
            admin = self._admin(admin_id)
            doc = next(
                (
                    d
                    for d in admin.documents.values()
                    if document_id in (d.document_id, d.reference)
                ),
                None,
            )
            if doc is None:
                return missing_page(title)
            fields: list[tuple[str, object]] = [
                ("Reference", doc.reference),
                ("Date", doc.date.isoformat()),
                ("Booked", "yes" if doc.processed else "no (draft)"),
                ("Total", doc.gross),
            ]
        return entry_page(f"{title} {doc.reference}", fields)

    def create_administration(self, body: AdministrationIn) -> dict[str, Any]:
        """Create an administration (and its access key unless one is given)."""
        with self.store.lock:
            key, admin = self.store.create_administration(body.name, body.access_key)
        return {"access_key": key, "administration_id": admin.id, "name": admin.name}

    def inspect(self, admin_id: str) -> dict[str, Any]:
        """Documents (lines, cost centres, booking numbers), contacts, products, periods."""
        with self.store.lock:
            return administration_state(self._admin(admin_id))

    def documents(self, admin_id: str, reference: str | None = None) -> list[dict[str, Any]]:
        with self.store.lock:
            admin = self._admin(admin_id)
            docs = [d for d in admin.documents.values() if reference in (None, d.reference)]
            return [document_state(admin, d) for d in docs]

    def type_invoice(self, admin_id: str, body: TypedInvoiceIn) -> dict[str, Any]:
        with self.store.lock:
            admin = self._admin(admin_id)
            if body.reference is not None and body.reference in admin.documents:
                raise HTTPException(409, f"reference {body.reference!r} is taken")
            net = body.net_amount.quantize(CENT, ROUND_HALF_UP)
            line = Line(
                description=body.subject,
                quantity=Decimal("1"),
                unit_price=net,
                net=net,
                vat=_vat(net, body.vat_percentage),
                vat_percentage=body.vat_percentage,
                vat_type=1,
                gl_account="8000",
                product_id="",
            )
            booking_number = admin.next_booking_number()
            doc = Document(
                document_id=new_guid(),
                reference=body.reference or booking_number,
                subject=body.subject,
                date=body.date,
                due_date=body.date + timedelta(days=30),
                currency="EUR",
                payment_method="ElectronicTransfer",
                contact_id=_contact_named(admin, body.contact).id,
                lines=[line],
                processed=True,
                booking_number=booking_number,
                visible_from=0.0,
            )
            admin.documents[doc.reference] = doc
            return document_state(admin, doc)

    def edit_invoice(self, admin_id: str, reference: str, body: InvoiceEditIn) -> dict[str, Any]:
        with self.store.lock:
            admin = self._admin(admin_id)
            doc = self._doc(admin, reference)
            if body.net_amount is not None:
                if body.line >= len(doc.lines):
                    raise HTTPException(422, f"the invoice has no line {body.line}")
                line = doc.lines[body.line]
                line.net = body.net_amount.quantize(CENT, ROUND_HALF_UP)
                line.unit_price = (line.net / line.quantity).quantize(CENT, ROUND_HALF_UP)
                line.vat = _vat(line.net, line.vat_percentage)
            if body.contact is not None:
                doc.contact_id = _contact_named(admin, body.contact).id
            doc.date = body.date or doc.date
            doc.version += 1
            return document_state(admin, doc)

    def delete_invoice(self, admin_id: str, reference: str) -> dict[str, Any]:
        """The invoice is deleted in Yuki (its open item goes with it)."""
        with self.store.lock:
            admin = self._admin(admin_id)
            doc = self._doc(admin, reference)
            del admin.documents[doc.reference]
            return {"deleted": doc.reference, "document_id": doc.document_id}

    def close_period(self, admin_id: str, body: PeriodIn) -> dict[str, Any]:
        """Close a month, or (with ``until``) everything up to a date, as Yuki's
        "Blokkeren en afsluiten" does; only ProcessSalesInvoices' refusal shows it."""
        with self.store.lock:
            admin = self._admin(admin_id)
            if body.until is not None:
                admin.closed_until = max(body.until, admin.closed_until or body.until)
            elif body.year is not None and body.month is not None:
                admin.closed_months.add((body.year, body.month))
            return _periods(admin)

    def open_period(self, admin_id: str, body: PeriodIn) -> dict[str, Any]:
        """Reopen a month, or (with ``until``) drop the closed-up-to date."""
        with self.store.lock:
            admin = self._admin(admin_id)
            if body.until is not None:
                admin.closed_until = None
            elif body.year is not None and body.month is not None:
                admin.closed_months.discard((body.year, body.month))
            return _periods(admin)

    def set_cost_centres(self, admin_id: str, body: CostCentresIn) -> dict[str, Any]:
        """What a Yuki user does by hand: cost centre / project on a document's lines."""
        with self.store.lock:
            admin = self._admin(admin_id)
            doc = self._doc(admin, body.reference)
            indexes = body.lines if body.lines is not None else range(len(doc.lines))
            if any(not 0 <= i < len(doc.lines) for i in indexes):
                raise HTTPException(422, "a line index does not exist")
            for i in indexes:
                doc.lines[i].cost_centre, doc.lines[i].project = body.cost_centre, body.project
            return document_state(admin, doc)

    def register_payment(self, admin_id: str, body: PaymentIn) -> dict[str, Any]:
        with self.store.lock:
            admin = self._admin(admin_id)
            doc = self._doc(admin, body.reference)
            if doc.open_amount is None:
                raise HTTPException(409, "a draft (Process=false) has no open item to pay")
            doc.paid += doc.open_amount if body.amount is None else body.amount
            return document_state(admin, doc)

    def process(self, admin_id: str, document_id: str, body: ProcessIn) -> dict[str, Any]:
        """Yuki's processing books an uploaded purchase document: its Reference becomes
        the booking's number (given, or counted by the sandbox)."""
        with self.store.lock:
            admin = self._admin(admin_id)
            doc = admin.archive.get(document_id.lower())
            if doc is None:
                raise HTTPException(404, f"no archive document {document_id!r}")
            archive.process(admin, doc, self.store.clock.now(), body.reference, body.contact_name)
            return archive_state(doc)

    def duplicate_mode(self, admin_id: str, body: DuplicateModeIn) -> dict[str, str]:
        """``update`` (default): a known Reference updates; ``reject``: it fails."""
        with self.store.lock:
            self._admin(admin_id).duplicate_mode = body.mode
        return {"mode": body.mode}

    def answers(self, admin_id: str, body: AnswersIn) -> dict[str, Any]:
        """``identifiers``: DocumentID and BookingNumber in each import result (not stock);
        ``form``: the Result as embedded elements or as escaped text."""
        with self.store.lock:
            admin = self._admin(admin_id)
            admin.identifiers_in_answers, admin.answer_form = body.identifiers, body.form
        return body.model_dump()

    def set_access(self, admin_id: str, body: AccessIn) -> dict[str, Any]:
        """What a Yuki user does to a key's rights: the administration's calls with a
        withdrawn key are refused at once (``No access to administration``)."""
        with self.store.lock:
            admin = self._admin(admin_id)
            if body.granted:
                key = self.store.grant(body.access_key, admin.id)
            elif body.access_key is None:
                raise HTTPException(422, "give the access_key to withdraw")
            elif not self.store.withdraw(body.access_key, admin.id):
                raise HTTPException(404, "that key has no access to this administration")
            else:
                key = body.access_key
        return {"access_key": key, "administration_id": admin.id, "granted": body.granted}

    def revoke_key(self, body: KeyIn) -> dict[str, int]:
        """The key is deleted in Yuki: Authenticate refuses it and its sessions end."""
        with self.store.lock:
            if body.access_key not in self.store.keys:
                raise HTTPException(404, "no such access key")
            return {"sessions_ended": self.store.revoke_key(body.access_key)}

    def expire(self, body: ExpireIn) -> dict[str, int]:
        """Expire one session, a key's sessions, or all of them."""
        with self.store.lock:
            return {"expired": self.store.expire_sessions(body.session_id, body.access_key)}

    def lifetime(self, body: LifetimeIn) -> dict[str, float]:
        """Lifetime of sessions opened from now on, in sandbox-clock seconds."""
        with self.store.lock:
            self.store.session_lifetime = body.seconds
        return {"seconds": body.seconds}

    def stats(self) -> dict[str, Any]:
        """ProcessSalesInvoices calls and invoices per call (benchmarks)."""
        with self.store.lock:
            per_call = list(self.store.stats.invoices_per_call)
            calls = self.store.stats.process_calls
        return {
            "process_calls": calls,
            "invoices_total": sum(per_call),
            "invoices_per_call": per_call,
        }

    def reset_stats(self) -> None:
        with self.store.lock:
            self.store.stats.process_calls = 0
            self.store.stats.invoices_per_call.clear()
