"""Purchase documents as Lexware bookkeeping vouchers (``/v1/vouchers``); pure, no I/O.

Lexware books a purchase invoice or receipt as a ``purchaseinvoice`` voucher and a
purchase credit note as a ``purchasecreditnote``; it has no voucher type of its own for
a receipt (a till receipt is an expense voucher like any other). A voucher carries the
supplier's number as given (``voucherNumber``: our booking number), one item per VAT
rate with an outgo posting category, and our reference and marker in ``remark`` (read
back after an unknown outcome). The original file is uploaded to it afterwards
(``/v1/vouchers/{id}/files``: pdf, jpg or png, at most 5 MB: ``FILE_LIMITS``).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from connector_lexware.mapping import plain_number, reference_line, voucher_date
from invoicesync_shared.connectors.file_limits import MIB, PDF_JPEG_PNG, FileLimits
from invoicesync_shared.connectors.provenance import marker
from invoicesync_shared.events.documents import DocumentSnapshot

VOUCHER_TYPES = {
    "purchase_invoice": "purchaseinvoice",
    "receipt": "purchaseinvoice",
    "purchase_credit_note": "purchasecreditnote",
}
LIST_TYPES = "purchaseinvoice,purchasecreditnote"
# Lexware's upload limits for voucher files (docs/purchase-documents.md), which the
# runtime applies before the voucher is made.
FILE_LIMITS = FileLimits("Lexware Office", 5 * MIB, PDF_JPEG_PNG)
# Outgo categories preferred, in order, when the organisation has them; else the first
# outgo category that allows a split and needs no particular contact.
PREFERRED_CATEGORIES = ("Wareneingang", "Wareneinkauf", "Fremdleistungen")


def voucher_type(kind: str) -> str:
    return VOUCHER_TYPES[kind]


def voucher_number(document: DocumentSnapshot) -> str:
    """The supplier's number, which Lexware keeps as the voucher's number."""
    return document.number.strip()[:255]


def remark(document: DocumentSnapshot, reference: str) -> str:
    """Our reference line and our marker line (as a sales voucher's introduction)."""
    return f"{reference_line(reference)}\n{marker(document.id)}"


def _items(document: DocumentSnapshot, category_id: str) -> list[dict[str, Any]]:
    """One net item per VAT rate: the document's lines summed (credit notes positive)."""
    net: dict[Decimal, Decimal] = defaultdict(Decimal)
    tax: dict[Decimal, Decimal] = defaultdict(Decimal)
    for line in document.lines:
        net[line.vat_rate] += line.net_amount
        tax[line.vat_rate] += line.vat_amount
    sign = -1 if document.gross_total < 0 else 1
    return [
        {
            "amount": float(sign * net[rate]),
            "taxAmount": float(sign * tax[rate]),
            "taxRatePercent": plain_number(rate),
            "categoryId": category_id,
        }
        for rate in sorted(net)
    ]


def voucher_payload(
    document: DocumentSnapshot, *, contact_id: str, category_id: str, reference: str
) -> dict[str, Any]:
    items = _items(document, category_id)
    payload: dict[str, Any] = {
        "type": voucher_type(document.kind),
        "voucherStatus": "open",
        "voucherNumber": voucher_number(document),
        "voucherDate": voucher_date(document.issue_date),
        "totalGrossAmount": round(sum(i["amount"] + i["taxAmount"] for i in items), 2),
        "totalTaxAmount": round(sum(i["taxAmount"] for i in items), 2),
        "taxType": "net",
        "useCollectiveContact": False,
        "contactId": contact_id,
        "voucherItems": items,
        "remark": remark(document, reference),
    }
    if document.due_date:
        payload["dueDate"] = voucher_date(document.due_date)
    return payload


def purchase_category(categories: list[dict[str, Any]]) -> str | None:
    """The outgo posting category purchase vouchers are booked on (None: none fits)."""
    usable = [
        c
        for c in categories
        if c.get("type") == "outgo" and c.get("splitAllowed", True) and not c.get("contactRequired")
    ]
    for name in PREFERRED_CATEGORIES:
        if found := next((c for c in usable if c.get("name") == name), None):
            return str(found["id"])
    return str(usable[0]["id"]) if usable else None
