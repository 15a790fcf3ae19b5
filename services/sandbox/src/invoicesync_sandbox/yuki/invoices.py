"""A schema-valid ``<SalesInvoice>`` read into typed values, with Yuki's VAT codes and sums.

Parsing happens after XSD validation, so values are known to be well-formed here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from invoicesync_sandbox.yuki.soap import Node

CENT = Decimal("0.01")
# VATType -> the percentages it may carry (NL: 1 high, 2 low, 3 zero, 4 reverse charge,
# 5 export outside the EU, 6 intra-EU supply, 7 exempt; BE low rates kept under 2).
VAT_CODES: dict[int, frozenset[Decimal]] = {
    1: frozenset({Decimal("21")}),
    2: frozenset({Decimal("9"), Decimal("6")}),
    3: frozenset({Decimal("0")}),
    4: frozenset({Decimal("0")}),
    5: frozenset({Decimal("0")}),
    6: frozenset({Decimal("0")}),
    7: frozenset({Decimal("0")}),
}
DEFAULT_PAYMENT_TERM = timedelta(days=30)


@dataclass
class ContactInput:
    code: str
    name: str
    country: str
    city: str
    zipcode: str
    address_1: str
    address_2: str
    email: str
    vat_number: str
    coc_number: str
    kind: str


@dataclass
class LineInput:
    description: str
    quantity: Decimal
    price: Decimal
    vat_percentage: Decimal
    vat_included: bool
    vat_type: int
    gl_account: str
    product_description: str
    product_reference: str
    line_amount: Decimal | None
    line_vat_amount: Decimal | None


@dataclass
class InvoiceInput:
    reference: str
    subject: str
    payment_method: str
    process: bool
    email_to_customer: bool
    date: dt.date
    due_date: dt.date
    currency: str
    contact: ContactInput
    lines: list[LineInput]


def _text(node: Node | None, name: str) -> str:
    return "" if node is None else (node.get(name) or "")


def _decimal(value: str | None) -> Decimal | None:
    return Decimal(value) if value else None


def _bool(value: str | None) -> bool:
    return (value or "").strip() in ("true", "1")


def _contact(node: Node | None) -> ContactInput:
    full = _text(node, "FullName")
    if not full:
        parts = (_text(node, n) for n in ("FirstName", "MiddleName", "LastName"))
        full = " ".join(p for p in parts if p)
    return ContactInput(
        code=_text(node, "ContactCode"),
        name=full,
        country=_text(node, "CountryCode").upper(),
        city=_text(node, "City"),
        zipcode=_text(node, "Zipcode"),
        address_1=_text(node, "AddressLine_1"),
        address_2=_text(node, "AddressLine_2"),
        email=_text(node, "EmailAddress"),
        vat_number=_text(node, "VATNumber"),
        coc_number=_text(node, "CoCNumber"),
        kind=_text(node, "ContactType") or "Company",
    )


def _line(node: Node) -> LineInput:
    product = node.child("Product")
    description = _text(node, "Description") or _text(product, "Description")
    return LineInput(
        description=description,
        quantity=Decimal(_text(node, "ProductQuantity") or "1"),
        price=_decimal(_text(product, "SalesPrice")) or Decimal("0"),
        vat_percentage=Decimal(_text(product, "VATPercentage") or "0"),
        vat_included=_bool(_text(product, "VATIncluded")),
        vat_type=int(_text(product, "VATType") or "0"),
        gl_account=_text(product, "GLAccountCode"),
        product_description=_text(product, "Description") or description,
        product_reference=_text(product, "Reference"),
        line_amount=_decimal(node.get("LineAmount")),
        line_vat_amount=_decimal(node.get("LineVATAmount")),
    )


def parse_invoice(node: Node) -> InvoiceInput:
    day = dt.date.fromisoformat(_text(node, "Date")[:10])
    due = _text(node, "DueDate")
    lines_node = node.child("InvoiceLines")
    return InvoiceInput(
        reference=_text(node, "Reference"),
        subject=_text(node, "Subject"),
        payment_method=_text(node, "PaymentMethod") or "ElectronicTransfer",
        process=_bool(node.get("Process")),
        email_to_customer=_bool(node.get("EmailToCustomer")),
        date=day,
        due_date=dt.date.fromisoformat(due[:10]) if due else day + DEFAULT_PAYMENT_TERM,
        currency=(_text(node, "Currency") or "EUR").upper(),
        contact=_contact(node.child("Contact")),
        lines=[_line(n) for n in ([] if lines_node is None else lines_node.all("InvoiceLine"))],
    )


def format_percentage(value: Decimal) -> str:
    """``21`` for 21.00 and ``5.5`` for 5.50, as in "No tax code for VATPercentage 21"."""
    text = format(value.normalize(), "f")
    return text


def unknown_vat(lines: list[LineInput]) -> LineInput | None:
    """The first line whose VATType/VATPercentage pair has no tax code."""
    for line in lines:
        allowed = VAT_CODES.get(line.vat_type)
        if allowed is None or line.vat_percentage not in allowed:
            return line
    return None


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def amounts(line: LineInput) -> tuple[Decimal, Decimal]:
    """(net, VAT) of a line; ``LineAmount``/``LineVATAmount`` win over computed values."""
    rate = line.vat_percentage / Decimal(100)
    gross_or_net = line.quantity * line.price
    if line.line_amount is not None:
        gross_or_net = line.line_amount
    net = money(gross_or_net / (1 + rate)) if line.vat_included else money(gross_or_net)
    vat = money(net * rate) if line.line_vat_amount is None else money(line.line_vat_amount)
    if line.vat_included and line.line_vat_amount is None:
        vat = money(gross_or_net) - net
    return net, vat
