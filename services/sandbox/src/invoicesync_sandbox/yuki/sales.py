"""ProcessSalesInvoices: XSD check of the whole batch, then each invoice on its own.

Business errors are per-invoice results (Succeeded=false + Message), never faults.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from invoicesync_sandbox.yuki.invoices import (
    InvoiceInput,
    amounts,
    format_percentage,
    parse_invoice,
    unknown_vat,
)
from invoicesync_sandbox.yuki.masterdata import resolve_contact, upsert_product
from invoicesync_sandbox.yuki.schema import SALES_NS, validation_errors
from invoicesync_sandbox.yuki.soap import Node
from invoicesync_sandbox.yuki.store import Administration, Contact, Document, Line, new_guid
from invoicesync_sandbox.yuki.xmlout import El, leaf

RESPONSE_NS = "urn:xmlns:http://www.theyukicompany.com:salesinvoicesresponse"


@dataclass
class InvoiceResult:
    succeeded: bool
    processed: bool
    email_sent: bool
    reference: str
    subject: str
    contact: str
    message: str
    document: Document | None = None

    def to_xml(self, *, identifiers: bool) -> El:
        """Stock fields only, unless ``identifiers`` (the sandbox extension) is on."""
        doc = self.document
        extension = [
            leaf("Contact", self.contact),
            leaf("DocumentID", doc.document_id if doc and self.succeeded else ""),
            leaf("BookingNumber", (doc.booking_number or "") if doc and self.succeeded else ""),
        ]
        return El(
            "Invoice",
            {"xmlns": ""},
            [
                leaf("Succeeded", self.succeeded),
                leaf("Processed", self.processed),
                leaf("EmailSent", self.email_sent),
                leaf("Reference", self.reference),
                leaf("Subject", self.subject),
                leaf("Message", self.message),
                *(extension if identifiers else []),
            ],
        )


def _failed(node: Node | None, message: str) -> InvoiceResult:
    reference = (node.get("Reference") or "") if node else ""
    subject = (node.get("Subject") or "") if node else ""
    return InvoiceResult(False, False, False, reference, subject, "", message)


def process_document(admin: Administration, xml_doc: Node) -> list[InvoiceResult]:
    """Results for every ``SalesInvoice`` of the ``xmlDoc`` parameter, in order."""
    root = xml_doc.children[0] if xml_doc.children else None
    invoices = root.all("SalesInvoice") if root is not None else []
    errors = _schema_errors(xml_doc, root)
    if errors:
        message = "The XML document is not valid according to SalesInvoices.xsd: " + errors[0]
        return [_failed(node, message) for node in invoices] or [_failed(None, message)]
    return [process_invoice(admin, node) for node in invoices]


def _schema_errors(xml_doc: Node, root: Node | None) -> list[str]:
    if root is None or not xml_doc.raw_children:
        return [
            "xmlDoc holds no SalesInvoices element (embed it as XML elements, not escaped text)"
        ]
    if root.name != "SalesInvoices" or root.ns != SALES_NS:
        return [
            f"the root element must be {{{SALES_NS}}}SalesInvoices, not {{{root.ns}}}{root.name}"
        ]
    return validation_errors(xml_doc.raw_children[0])


def process_invoice(admin: Administration, node: Node) -> InvoiceResult:
    data = parse_invoice(node)
    problem = _refusal(admin, data)
    if problem:
        return _failed(node, problem)
    contact = resolve_contact(admin, data.contact)
    if isinstance(contact, str):
        return _failed(node, contact)
    document = _store(admin, data, contact)
    email_sent = data.process and data.email_to_customer and bool(contact.email)
    return InvoiceResult(
        True, data.process, email_sent, document.reference, data.subject, contact.name, "", document
    )


def _refusal(admin: Administration, data: InvoiceInput) -> str | None:
    if not data.lines:
        return "The invoice has no invoice lines"
    bad = unknown_vat(data.lines)
    if bad is not None:
        pct = format_percentage(bad.vat_percentage)
        return f"No tax code for VATPercentage {pct} & VATType {bad.vat_type}"
    if admin.is_closed(data.date):
        return closed_period_message(data.date)
    existing = admin.documents.get(data.reference) if data.reference else None
    if existing is not None and admin.duplicate_mode == "reject":
        return (
            f"Invoice with reference '{data.reference}' already exists (duplicate invoice number)"
        )
    return None


def closed_period_message(day: date) -> str:
    """Our assumption of Yuki's refusal of an invoice dated in a closed period: Yuki's docs
    say books can be blocked or closed up to a date in its app ("Blokkeren en afsluiten"),
    not what an import into them answers (docs/ACCOUNTING-APIS.md §3.4), and no documented
    call reads the lock date (``GetPeriodDateTable`` has no open/closed flag) — so the
    connector can only learn of it from this refusal, never in a preview."""
    return (
        f"Period {day.year}-{day.month:02d} is closed: no transactions can be booked "
        f"on {day.isoformat()} (De periode {day.month:02d}-{day.year} is afgesloten)"
    )


def _lines(admin: Administration, data: InvoiceInput) -> list[Line]:
    out = []
    for line in data.lines:
        product = upsert_product(admin, line)
        net, vat = amounts(line)
        out.append(
            Line(
                description=line.description,
                quantity=line.quantity,
                unit_price=line.price,
                net=net,
                vat=vat,
                vat_percentage=line.vat_percentage,
                vat_type=line.vat_type,
                gl_account=product.gl_account,
                product_id=product.id,
            )
        )
    return out


def _store(admin: Administration, data: InvoiceInput, contact: Contact) -> Document:
    """Create the document, or update the one with this Reference (lines are replaced,
    so cost centres and projects set on them in Yuki are reset)."""
    lines = _lines(admin, data)
    existing = admin.documents.get(data.reference) if data.reference else None
    if existing is None:
        existing = Document(
            document_id=new_guid(),
            reference=data.reference,
            subject=data.subject,
            date=data.date,
            due_date=data.due_date,
            currency=data.currency,
            payment_method=data.payment_method,
            contact_id=contact.id,
            lines=lines,
            processed=False,
            version=0,
        )
    existing.version += 1
    existing.subject, existing.date, existing.due_date = data.subject, data.date, data.due_date
    existing.currency, existing.payment_method = data.currency, data.payment_method
    existing.contact_id, existing.lines = contact.id, lines
    existing.processed = existing.processed or data.process
    if existing.processed and existing.booking_number is None:
        existing.booking_number = admin.next_booking_number()
    if not existing.reference:
        existing.reference = existing.booking_number or existing.document_id
    admin.documents[existing.reference] = existing
    return existing


def import_response(admin: Administration, results: list[InvoiceResult], today: date) -> El:
    succeeded = sum(1 for r in results if r.succeeded)
    return El(
        "SalesInvoicesImportResponse",
        {"xmlns": RESPONSE_NS},
        [
            El("TimeStamp", {"xmlns": ""}, text=today.isoformat()),
            El("AdministrationId", {"xmlns": ""}, text=admin.id),
            El("TotalSucceeded", {"xmlns": ""}, text=str(succeeded)),
            El("TotalFailed", {"xmlns": ""}, text=str(len(results) - succeeded)),
            El("TotalSkipped", {"xmlns": ""}, text="0"),
            *(r.to_xml(identifiers=admin.identifiers_in_answers) for r in results),
        ],
    )
