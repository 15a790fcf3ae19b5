"""Pure mapping between our documents and Exact's OData entities (no I/O)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from invoicesync_shared.connectors.provenance import stamped
from invoicesync_shared.events.documents import CustomerData, DocumentLine, DocumentSnapshot

SALES_ENTRY, CREDIT_NOTE = 20, 21
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


def account_filters(customer: CustomerData) -> list[str]:
    """Filters to find an existing relation, most specific first."""
    filters = []
    if customer.external_id.isdigit() and len(customer.external_id) <= CODE_WIDTH:
        filters.append(f"Code eq {odata_string(padded_code(customer.external_id))}")
    if customer.vat_number:
        filters.append(f"VATNumber eq {odata_string(customer.vat_number)}")
    if customer.company_number:
        filters.append(f"ChamberOfCommerce eq {odata_string(customer.company_number)}")
    filters.append(f"Name eq {odata_string(customer.name)}")
    return filters


def account_payload(customer: CustomerData) -> dict[str, Any]:
    address = customer.address
    payload: dict[str, Any] = {
        "Name": customer.name[:100],
        "Status": "C",
        "IsSales": True,
        "VATNumber": customer.vat_number,
        "ChamberOfCommerce": customer.company_number,
        "Email": customer.email,
        "Country": customer.country or (address.country if address else None),
    }
    if customer.external_id.isdigit() and len(customer.external_id) <= CODE_WIDTH:
        payload["Code"] = customer.external_id
    if address:
        street = " ".join(p for p in (address.street, address.house_number) if p)
        payload.update(
            {"AddressLine1": street or None, "Postcode": address.postal_code, "City": address.city}
        )
    return {k: v for k, v in payload.items() if v is not None}


def _money(value: Decimal, sign: int) -> str:
    return format(value * sign, "f")


def sales_entry_payload(
    document: DocumentSnapshot,
    *,
    reference: str,
    journal: str,
    customer_id: str,
    gl_account_ids: list[str],
    vat_codes: list[str],
) -> dict[str, Any]:
    """A SalesEntry with its lines; credit notes are type 21 with negative amounts."""
    sign = -1 if document.kind == "credit_note" else 1
    lines = [
        _line(line, gl, vat, sign)
        for line, gl, vat in zip(document.lines, gl_account_ids, vat_codes, strict=True)
    ]
    payload: dict[str, Any] = {
        "Journal": journal,
        "Customer": customer_id,
        "EntryDate": document.issue_date.isoformat() + "T00:00:00Z",
        "YourRef": reference,
        "Description": stamped(
            f"{'Credit note' if sign < 0 else 'Invoice'} {document.number}",
            document.id,
            DESCRIPTION_LENGTH,
        ),
        "Type": CREDIT_NOTE if sign < 0 else SALES_ENTRY,
        "Currency": document.currency,
        "SalesEntryLines": lines,
    }
    if document.due_date:
        payload["DueDate"] = document.due_date.isoformat() + "T00:00:00Z"
    return payload


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
    return -value if kind == "credit_note" else value
