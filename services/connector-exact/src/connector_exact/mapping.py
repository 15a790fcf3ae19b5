"""Pure mapping between our documents and Exact's OData entities (no I/O)."""

from __future__ import annotations

import base64
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from invoicesync_shared.connectors.file_limits import MIB, PDF_JPEG_PNG, FileLimits
from invoicesync_shared.connectors.provenance import stamped
from invoicesync_shared.events.documents import (
    CREDITS,
    PURCHASE_KINDS,
    CustomerData,
    DocumentLine,
    DocumentSnapshot,
)

SALES_ENTRY, CREDIT_NOTE = 20, 21
PURCHASE_ENTRY, PURCHASE_CREDIT_NOTE = 30, 31
# documents/Documents.Type of a purchase invoice (the sandbox's DocumentTypes; the number
# on the real host is unverified, see docs/purchase-documents.md). Receipts and purchase
# credit notes are filed under it too.
PURCHASE_INVOICE_DOCUMENT = 20
# What documents/DocumentAttachments takes: Exact publishes no limit (unverified), so the
# sandbox's strict one (25 MB), and the types the API takes; the runtime applies them.
FILE_LIMITS = FileLimits("Exact Online", 25 * MIB, PDF_JPEG_PNG)
TITLES = {
    "invoice": "Invoice",
    "credit_note": "Credit note",
    "purchase_invoice": "Purchase invoice",
    "purchase_credit_note": "Purchase credit note",
    "receipt": "Receipt",
}
ACCOUNT_NAME_LENGTH = 100
CODE_WIDTH = 18  # Accounts.Code is right-aligned and space-padded to 18 characters
# The header Description holds our marker. 60 is the length we keep to; Exact's own limit
# is not published (unverified; the sandbox refuses more than 100).
DESCRIPTION_LENGTH = 60
_ODATA_DATE = re.compile(r"/Date\((-?\d+)\)/")


def odata_string(value: str) -> str:
    """A quoted OData literal (quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def padded_code(code: str) -> str:
    return code.rjust(CODE_WIDTH)


def is_purchase(document: DocumentSnapshot) -> bool:
    return document.kind in PURCHASE_KINDS


# Which accounts each side matches among. Exact's Status is "A" (none) for an account
# that is no customer; suspects (S) and prospects (P) are customers in the making.
CUSTOMER_ACCOUNTS = "Status ne 'A'"
SUPPLIER_ACCOUNTS = "IsSupplier eq true"
ACCOUNT_FIELDS = "ID,Code,Name,Status,Blocked,Remarks"  # the $select of a match
# Every account we make says whose it is in its Remarks (written with the account, so a
# lost answer cannot lose it): a code match to an account of another of ours is refused.
_OWNER = re.compile(r"invoicesync (customer|supplier) (\S+)")


def account_filters(customer: CustomerData, *, supplier: bool = False) -> list[str]:
    """Filters to find an existing relation, most specific first, each side among its own
    accounts: a customer among customers, a supplier among accounts flagged
    ``IsSupplier``. A supplier of the same VAT number or name is another relation until a
    bookkeeper makes it a customer too (and the other way round); matched across, a sales
    entry would land on a supplier account. The code filter alone asks every account:
    codes are one list per division, so an account of another side may hold our customer's
    code (``is_customer`` tells; the customer is then made without it). Nor is a supplier
    matched by code: an account's code is our *customer's* id (``account_payload`` gives
    suppliers none, Exact numbers them), so supplier 42 would meet customer 42."""
    code = []
    if matches_by_code(customer, supplier=supplier):
        code.append(f"Code eq {odata_string(padded_code(customer.external_id))}")
    filters = []
    if customer.vat_number:
        filters.append(f"VATNumber eq {odata_string(customer.vat_number)}")
    if customer.company_number:
        filters.append(f"ChamberOfCommerce eq {odata_string(customer.company_number)}")
    filters.append(f"Name eq {odata_string(account_name(customer))}")
    side = SUPPLIER_ACCOUNTS if supplier else CUSTOMER_ACCOUNTS
    return code + [f"{side} and {f}" for f in filters]


def account_name(customer: CustomerData) -> str:
    """The name as an account holds it (Exact keeps 100 characters): what we create is
    what we look for, so a long name's account, its answer lost, is found, not made again."""
    return customer.name[:ACCOUNT_NAME_LENGTH]


def owner_note(customer: CustomerData, *, supplier: bool = False) -> str:
    """The Remarks of an account we make: which relation of ours it is."""
    return f"invoicesync {'supplier' if supplier else 'customer'} {customer.external_id}"


def made_for_another(account: dict[str, Any], customer: CustomerData) -> bool:
    """Whether we made ``account`` for another relation than our customer ``customer``
    (its Remarks say so): Exact numbered it, and its code is our customer's id only by
    chance."""
    found = _OWNER.search(str(account.get("Remarks") or ""))
    return found is not None and found.group(0) != owner_note(customer)


def is_customer(account: dict[str, Any]) -> bool:
    """Whether a matched account is a customer (see ``CUSTOMER_ACCOUNTS``)."""
    return account.get("Status") != "A"


def matches_by_code(customer: CustomerData, *, supplier: bool = False) -> bool:
    """Whether ``account_filters`` begins with the code filter."""
    return not supplier and _has_code(customer)


def _has_code(customer: CustomerData) -> bool:
    return customer.external_id.isdigit() and len(customer.external_id) <= CODE_WIDTH


def account_payload(
    customer: CustomerData, *, supplier: bool = False, with_code: bool = True
) -> dict[str, Any]:
    """A new account: a customer (Status C, IsSales) or a supplier (IsSupplier, Status A
    "none": it is no customer). A supplier gets no Code of ours: codes are one list per
    division, and a supplier's id comes from another list than our customers' ids, so
    Exact numbers it. Nor does a customer whose code another side's account holds
    (``with_code`` false): Exact numbers it too, and its link finds it again."""
    address = customer.address
    payload: dict[str, Any] = {
        "Name": account_name(customer),
        "Status": "A" if supplier else "C",
        "IsSales": not supplier,
        "IsSupplier": True if supplier else None,
        "VATNumber": customer.vat_number,
        "ChamberOfCommerce": customer.company_number,
        "Email": customer.email,
        "Remarks": owner_note(customer, supplier=supplier),
        "Country": customer.country or (address.country if address else None),
    }
    if not supplier and with_code and _has_code(customer):
        payload["Code"] = customer.external_id
    if address:
        street = " ".join(p for p in (address.street, address.house_number) if p)
        payload.update(
            {"AddressLine1": street or None, "Postcode": address.postal_code, "City": address.city}
        )
    return {k: v for k, v in payload.items() if v is not None}


def _money(value: Decimal, sign: int) -> str:
    return format(value * sign, "f")


def entry_payload(
    document: DocumentSnapshot,
    *,
    reference: str,
    journal: str,
    party_id: str,
    gl_account_ids: list[str],
    vat_codes: list[str],
    attachment: str | None = None,
) -> dict[str, Any]:
    """A SalesEntry (the party is ``Customer``) or a PurchaseEntry (``Supplier``, and the
    ``Document`` holding the file) with its lines; credit notes are type 21 / 31 with
    negative amounts. A receipt is a purchase entry like a purchase invoice."""
    sign = -1 if document.kind in CREDITS else 1
    purchase = is_purchase(document)
    lines = [
        _line(line, gl, vat, sign)
        for line, gl, vat in zip(document.lines, gl_account_ids, vat_codes, strict=True)
    ]
    if purchase:
        entry_type = PURCHASE_CREDIT_NOTE if sign < 0 else PURCHASE_ENTRY
    else:
        entry_type = CREDIT_NOTE if sign < 0 else SALES_ENTRY
    payload: dict[str, Any] = {
        "Journal": journal,
        "Supplier" if purchase else "Customer": party_id,
        "EntryDate": document.issue_date.isoformat() + "T00:00:00Z",
        "YourRef": reference,
        "Description": stamped(
            f"{TITLES[document.kind]} {document.number}", document.id, DESCRIPTION_LENGTH
        ),
        "Type": entry_type,
        "Currency": document.currency,
        lines_key(document): lines,
    }
    if document.due_date:
        payload["DueDate"] = document.due_date.isoformat() + "T00:00:00Z"
    if attachment is not None:
        payload["Document"] = attachment
    return payload


def lines_key(document: DocumentSnapshot) -> str:
    return "PurchaseEntryLines" if is_purchase(document) else "SalesEntryLines"


def document_payload(document: DocumentSnapshot, supplier_id: str) -> dict[str, Any]:
    """The documents/Documents record the file is attached to and the entry points at
    (Exact's documented order: document, attachment, then the entry with ``Document``)."""
    return {
        # Our marker: a retry after an unknown outcome finds the document it filed.
        "Subject": stamped(f"{TITLES[document.kind]} {document.number}", document.id, 200),
        "Type": PURCHASE_INVOICE_DOCUMENT,
        "Account": supplier_id,
        "DocumentDate": document.issue_date.isoformat() + "T00:00:00Z",
    }


def attachment_payload(document_id: str, filename: str, content: bytes) -> dict[str, Any]:
    """documents/DocumentAttachments: the bytes as base64 in the JSON body (a raw binary
    body is refused with a Byte[] conversion error)."""
    return {
        "Document": document_id,
        "FileName": filename[:250],
        "Attachment": base64.b64encode(content).decode("ascii"),
    }


def _line(line: DocumentLine, gl_account_id: str, vat_code: str, sign: int) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "GLAccount": gl_account_id,
        "AmountFC": _money(line.net_amount, sign),
        "VATAmountFC": _money(line.vat_amount, sign),
        "VATCode": vat_code,
        "Description": line.description[:60],
        "Quantity": format(line.quantity, "f"),
    }
    if line.cost_centre:
        payload["CostCenter"] = line.cost_centre
    return payload


def vat_percentage(rate: Decimal) -> Decimal:
    """Our rates are percents (21); Exact's VATCodes.Percentage is a fraction (0.21)."""
    return (rate / 100).quantize(Decimal("0.0001"))


def odata_date(value: object) -> date | None:
    """A date as Exact sends it out (``/Date(ms)/``), or ISO text; None if neither."""
    text = str(value or "")
    if found := _ODATA_DATE.fullmatch(text):
        return datetime.fromtimestamp(int(found.group(1)) / 1000, UTC).date()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def signed_total(amount: object, kind: str) -> Decimal | None:
    """A header ``AmountFC`` (gross, negative for a credit note) as our documents sign
    totals: positive for both kinds, so an invoice in a credit note's place differs."""
    if amount is None:
        return None
    value = Decimal(str(amount))
    return -value if kind in CREDITS else value
