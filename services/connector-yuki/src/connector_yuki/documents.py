"""Pure XML for Yuki: our document as a ``<SalesInvoice>`` (SalesInvoices.xsd), and the
results Yuki sends back, read into plain values. No I/O; lxml stays in here and soap.py.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NewType

from lxml import etree
from lxml.builder import ElementMaker

from invoicesync_shared.connectors.errors import PermanentError
from invoicesync_shared.connectors.provenance import stamped
from invoicesync_shared.events.documents import CustomerData, DocumentLine, DocumentSnapshot

SALES_NS = "urn:xmlns:http://www.theyukicompany.com:salesinvoices"
DEFAULT_GL_ACCOUNT = "8000"
MAX_REFERENCE = 50  # Text50 in SalesInvoices.xsd; never cut, it is how we find the document
# Text255 in SalesInvoices.xsd; holds our marker, which the open item shows as its Description
# (the sandbox does; that real Yuki does is unverified).
MAX_SUBJECT = 255
# Our VAT rate → Yuki's VATType (1 high, 2 low, 3 zero). A 0 % rate cannot tell reverse
# charge or export from "zero", so it is booked as the zero rate.
VAT_TYPES: dict[Decimal, int] = {
    Decimal("21"): 1,
    Decimal("9"): 2,
    Decimal("6"): 2,
    Decimal("0"): 3,
}

SalesInvoiceXml = NewType("SalesInvoiceXml", bytes)  # one serialized <SalesInvoice>

_E: Any = ElementMaker(namespace=SALES_NS, nsmap={None: SALES_NS})
_PARSER: Any = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")


@dataclass(frozen=True)
class InvoiceResult:
    """One ``<Invoice>`` of a SalesInvoicesImportResponse."""

    succeeded: bool
    reference: str
    message: str
    document_id: str
    booking_number: str


@dataclass(frozen=True)
class OutstandingItem:
    """One ``<Item>`` of CheckOutstandingItem(Admin) or OutstandingDebtorItems."""

    reference: str
    document_id: str
    booking_number: str
    open_amount: Decimal | None = None  # None: the answer did not say
    original_amount: Decimal | None = None  # gross, negative for a credit note
    day: date | None = None
    description: str = ""  # the invoice's Subject: it carries our marker
    contact: str = ""  # the contact's name


def vat_type(rate: Decimal) -> int:
    """Yuki's VATType for a rate; raises ``PermanentError`` for a rate it has no type for."""
    found = VAT_TYPES.get(rate)
    if found is None:
        known = ", ".join(f"{r} %" for r in sorted(VAT_TYPES))
        raise PermanentError(
            "unknown_vat_code",
            f"Yuki has no VAT type for {rate.normalize():f} % (supported: {known}).",
        )
    return found


def sales_invoice(
    document: DocumentSnapshot, *, reference: str, default_gl_account: str | None
) -> SalesInvoiceXml:
    """The document as one ``<SalesInvoice>``; credit notes carry negative amounts.

    Raises ``PermanentError`` when the document cannot be expressed for Yuki at all.
    """
    if len(reference) > MAX_REFERENCE:
        raise PermanentError(
            "reference_too_long",
            f"Yuki accepts document numbers of at most {MAX_REFERENCE} characters.",
        )
    if not document.lines:
        raise PermanentError("no_lines", "Yuki does not accept a document without lines.")
    sign = -1 if document.kind == "credit_note" else 1
    title = "Credit note" if sign < 0 else "Invoice"
    # In the order of the schema's sequence: real Yuki rejects the whole batch otherwise.
    due_date = [_E.DueDate(document.due_date.isoformat())] if document.due_date else []
    fields = [
        _E.Reference(reference),
        _E.Subject(
            stamped(_text(f"{title} {document.number}", MAX_SUBJECT), document.id, MAX_SUBJECT)
        ),
        _E.PaymentMethod("ElectronicTransfer"),
        _E.Process("true"),
        _E.EmailToCustomer("false"),
        _E.Date(document.issue_date.isoformat()),
        *due_date,
        _E.Currency(document.currency.upper()),
        _contact(document.customer),
        _E.InvoiceLines(
            *(_line(line, sign, default_gl_account) for line in document.lines),
        ),
    ]
    return SalesInvoiceXml(etree.tostring(_E.SalesInvoice(*fields)))


def sales_invoices(invoices: Sequence[SalesInvoiceXml]) -> bytes:
    """The ``xmlDoc`` of one ProcessSalesInvoices call."""
    root = _E.SalesInvoices(*(etree.fromstring(raw, _PARSER) for raw in invoices))
    return bytes(etree.tostring(root))


def _contact(customer: CustomerData) -> Any:
    address = customer.address
    country = customer.country or (address.country if address else None) or ""
    street = None
    if address is not None:
        street = " ".join(p for p in (address.street, address.house_number) if p) or None
    # In the order of the schema's sequence.
    values: list[tuple[str, str | None, int]] = [
        # ContactCode is how Yuki matches the contact; one too long for Text50 is left
        # out, and Yuki matches on name and address instead.
        ("ContactCode", customer.external_id if len(customer.external_id) <= 50 else None, 50),
        ("FullName", customer.name, 255),
        ("CountryCode", country.upper() if _COUNTRY.match(country) else None, 2),
        ("City", address.city if address else None, 60),
        ("Zipcode", address.postal_code if address else None, 50),
        ("AddressLine_1", street, 255),
        ("EmailAddress", customer.email, 255),
        ("CoCNumber", customer.company_number, 50),
        ("VATNumber", customer.vat_number, 50),
        ("ContactType", "Person" if customer.is_person else "Company", 10),
    ]
    return _E.Contact(
        *(getattr(_E, name)(_text(value, size)) for name, value, size in values if value)
    )


def _line(line: DocumentLine, sign: int, default_gl_account: str | None) -> Any:
    description = _text(line.description, 255)
    gl_account = line.gl_account or default_gl_account or DEFAULT_GL_ACCOUNT
    product = _E.Product(
        _E.Description(description),
        _E.SalesPrice(_decimal(line.unit_price * sign, 4)),
        _E.VATPercentage(_decimal(line.vat_rate, 2)),
        _E.VATIncluded("false"),
        _E.VATType(str(vat_type(line.vat_rate))),
        _E.GLAccountCode(_text(gl_account, 50)),
    )
    # Our own line amounts, so Yuki's totals equal ours to the cent.
    return _E.InvoiceLine(
        _E.Description(description),
        _E.ProductQuantity(_decimal(line.quantity, 4)),
        _E.LineAmount(_decimal(line.net_amount * sign, 2)),
        _E.LineVATAmount(_decimal(line.vat_amount * sign, 2)),
        product,
    )


def _text(value: str, size: int) -> str:
    """Text as the schema allows it: no control characters, at most ``size`` long."""
    return _CONTROL_CHARS.sub("", value).strip()[:size]


def _decimal(value: Decimal, places: int) -> str:
    return format(value.quantize(Decimal(1).scaleb(-places)), "f")


def parse_import_response(raw: bytes) -> list[InvoiceResult]:
    """The ``<Invoice>`` results, in the order of the invoices sent."""
    root = _root(raw)
    if root is None:
        return []
    return [
        InvoiceResult(
            succeeded=_child_text(node, "Succeeded").lower() == "true",
            reference=_child_text(node, "Reference"),
            message=" ".join(_child_text(node, "Message").split()),
            document_id=_child_text(node, "DocumentID"),
            booking_number=_child_text(node, "BookingNumber"),
        )
        for node in _descendants(root, "Invoice")
    ]


def parse_outstanding_items(raw: bytes) -> list[OutstandingItem]:
    root = _root(raw)
    if root is None:
        return []
    return [
        OutstandingItem(
            reference=_child_text(item, "Reference"),
            document_id=_child_text(item, "DocumentID") or str(item.get("ID") or ""),
            booking_number=_child_text(item, "BookingNumber"),
            open_amount=_amount(_child_text(item, "OpenAmount")),
            original_amount=_amount(_child_text(item, "OriginalAmount")),
            day=_date(_child_text(item, "Date")),
            description=_child_text(item, "Description"),
            contact=_child_text(item, "Contact"),
        )
        for item in _descendants(root, "Item")
    ]


def parse_administrations(raw: bytes) -> dict[str, str]:
    """Administration ID → name."""
    root = _root(raw)
    if root is None:
        return {}
    return {
        str(n.get("ID") or "").lower(): _child_text(n, "Name")
        for n in _descendants(root, "Administration")
    }


def _root(raw: bytes) -> Any:
    return etree.fromstring(raw, _PARSER) if raw.strip() else None


def _local(node: Any) -> str:
    return str(etree.QName(node).localname)


def _descendants(node: Any, name: str) -> list[Any]:
    """Elements named ``name`` anywhere below (or at) ``node``, whatever their namespace."""
    return [e for e in node.iter() if isinstance(e.tag, str) and _local(e) == name]


def _children(node: Any, name: str) -> list[Any]:
    """Children by local name: Yuki mixes namespaced and unqualified elements."""
    return [c for c in node if isinstance(c.tag, str) and _local(c) == name]


def _amount(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except ArithmeticError:  # decimal.InvalidOperation: not a number
        return None


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def _child_text(node: Any, name: str) -> str:
    found = _children(node, name)
    return str(found[0].text or "").strip() if found else ""
