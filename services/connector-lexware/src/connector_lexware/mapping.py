"""Pure mapping between our documents and Lexware Office's contacts and vouchers (no I/O)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from invoicesync_shared.connectors.provenance import marker
from invoicesync_shared.events.documents import (
    Address,
    CompanyData,
    CustomerData,
    DocumentLine,
    DocumentSnapshot,
)
from invoicesync_shared.integration_settings import LexwareSettings

BERLIN = ZoneInfo("Europe/Berlin")
EU_COUNTRIES = frozenset(
    {
        *("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU"),
        *("IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"),
    }
)
# Lexware's text filters (name, email) refuse fewer characters.
MIN_FILTER = 3
# Printed on the voucher and searched for after an unknown outcome: our document number,
# and on the next line our marker (which proves the voucher is ours, not a lookalike).
REFERENCE_LABEL = "Referenz / Reference: "
CENT = Decimal("0.01")
Role = Literal["customer", "supplier"]


def scope_of(integration_id: uuid.UUID, settings: LexwareSettings) -> str:
    """The organisation verify found (the API keeps verify's answer under "remote"); before
    that, the integration itself stands in for it."""
    found = settings.organization_id
    return found if found else f"integration:{integration_id}"


def country_of(party: CustomerData | CompanyData) -> str | None:
    address = party.address
    country = party.country or (address.country if address else None)
    return country.upper() if country else None


def is_foreign_eu_company(customer: CustomerData, home: str | None) -> bool:
    """A business customer in another EU country: needs a VAT number (reverse charge)."""
    country = country_of(customer)
    return not customer.is_person and country in EU_COUNTRIES and country != (home or "DE")


def voucher_date(day: date) -> str:
    """Lexware's date-time: midnight in Berlin, with milliseconds and the offset."""
    return datetime.combine(day, time(), BERLIN).isoformat(timespec="milliseconds")


# The filters of /v1/voucherlist. Its ``voucherStatus`` is spelt out, as "overdue" is a
# subset of "open" that Lexware takes only on its own (with others: 400).
LIST_TYPES = "invoice,creditnote"
_STATUSES = ("draft", "open", "paid", "paidoff", "voided")
EVERY_STATUS = ",".join(_STATUSES)
NUMBERED_STATUSES = ",".join(s for s in _STATUSES if s != "draft")
"""Every status but draft: exactly the vouchers that have a number."""


def list_type(kind: str) -> str:
    """The ``voucherType`` of a document kind in ``/v1/voucherlist``."""
    return "creditnote" if kind == "credit_note" else "invoice"


def voucher_path(kind: str) -> str:
    return "v1/credit-notes" if kind == "credit_note" else "v1/invoices"


def reference_line(reference: str) -> str:
    return f"{REFERENCE_LABEL}{reference}"


def introduction(document: DocumentSnapshot, reference: str) -> str:
    """The introduction text: our reference line and our marker line."""
    return f"{reference_line(reference)}\n{marker(document.id)}"


def voucher_day(voucher: dict[str, Any]) -> date | None:
    """The voucher's date as Lexware shows it (its date-time is local midnight)."""
    try:
        return date.fromisoformat(str(voucher.get("voucherDate") or "")[:10])
    except ValueError:
        return None


def gross_total(voucher: dict[str, Any]) -> Decimal | None:
    amount = (voucher.get("totalPrice") or {}).get("totalGrossAmount")
    return None if amount is None else Decimal(str(amount))


def carries_reference(voucher: dict[str, Any], reference: str) -> bool:
    """Whether a voucher's introduction holds our reference line (a whole line, so
    ``INV-1`` never matches ``INV-10``)."""
    lines = str(voucher.get("introduction") or "").splitlines()
    return any(line.strip() == reference_line(reference) for line in lines)


def reference_in(voucher: dict[str, Any]) -> str | None:
    """The reference our reference line carries, if the introduction has one."""
    for line in str(voucher.get("introduction") or "").splitlines():
        if line.strip().startswith(REFERENCE_LABEL.strip()):
            return line.strip()[len(REFERENCE_LABEL.strip()) :].strip() or None
    return None


def _normalised(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def _vat(text: str | None) -> str:
    return "".join((text or "").split()).upper()


# Our counterparty roles and the Lexware contact role each one is: a sales document's
# customer is a ``customer``, a purchase document's supplier a ``vendor``.
ROLES: dict[Role, str] = {"customer": "customer", "supplier": "vendor"}


def contact_searches(customer: CustomerData, role: Role = "customer") -> list[dict[str, str]]:
    """``GET /v1/contacts`` filters to find an existing contact in ``role``, best first."""
    searches = []
    flag = {ROLES[role]: "true"}
    if len(customer.name.strip()) >= MIN_FILTER:
        searches.append({"name": customer.name.strip(), **flag})
    if customer.email and len(customer.email.strip()) >= MIN_FILTER:
        searches.append({"email": customer.email.strip(), **flag})
    return searches


def _contact_name(row: dict[str, Any]) -> str:
    if company := row.get("company"):
        return str(company.get("name") or "")
    person = row.get("person") or {}
    return " ".join(str(p) for p in (person.get("firstName"), person.get("lastName")) if p)


def _contact_emails(row: dict[str, Any]) -> set[str]:
    groups = (row.get("emailAddresses") or {}).values()
    return {_normalised(e) for group in groups for e in (group or [])}


def _is_match(row: dict[str, Any], customer: CustomerData) -> bool:
    theirs = _vat((row.get("company") or {}).get("vatRegistrationId"))
    ours = _vat(customer.vat_number)
    if ours and theirs:
        return ours == theirs
    if _normalised(_contact_name(row)) == _normalised(customer.name):
        return True
    return bool(customer.email) and _normalised(customer.email) in _contact_emails(row)


def matching_contact(rows: list[dict[str, Any]], customer: CustomerData) -> dict[str, Any] | None:
    """The first non-archived row that is this customer: same VAT number, or (when either
    side has none) the same name or e-mail address."""
    return next((r for r in rows if not r.get("archived") and _is_match(r, customer)), None)


def customer_number(row: dict[str, Any], role: Role = "customer") -> str | None:
    """The contact's number in ``role`` (customer or vendor number)."""
    number = ((row.get("roles") or {}).get(ROLES[role]) or {}).get("number")
    return str(number) if number is not None else None


def _address(address: Address | None, country: str | None) -> dict[str, str]:
    address = address or Address()
    street = " ".join(p for p in (address.street, address.house_number) if p)
    fields = {"street": street, "zip": address.postal_code, "city": address.city}
    return {k: v for k, v in {**fields, "countryCode": country}.items() if v}


def _party(customer: CustomerData) -> dict[str, Any]:
    if customer.is_person:
        first, _, last = customer.name.strip().rpartition(" ")
        person = {"lastName": last, **({"firstName": first} if first else {})}
        return {"person": person}
    company: dict[str, Any] = {"name": customer.name.strip()}
    if customer.vat_number:
        company["vatRegistrationId"] = _vat(customer.vat_number)
    return {"company": company}


def contact_payload(customer: CustomerData, role: Role = "customer") -> dict[str, Any]:
    """A new contact in ``role``'s Lexware role (Lexware assigns its number there)."""
    payload: dict[str, Any] = {
        "version": 0,
        "roles": {ROLES[role]: {}},
        **_party(customer),
        "addresses": {"billing": [_address(customer.address, country_of(customer))]},
        "note": f"invoicesync {role} {customer.external_id}"[:1000],
    }
    if customer.email:
        payload["emailAddresses"] = {"business": [customer.email.strip()]}
    return payload


def tax_type(document: DocumentSnapshot) -> str:
    """``net`` unless every line is VAT-free for an EU business or a non-EU customer."""
    if any(line.vat_rate for line in document.lines):
        return "net"
    home = country_of(document.company) if document.company else None
    if is_foreign_eu_company(document.customer, home) and document.customer.vat_number:
        return "intraCommunitySupply"
    country = country_of(document.customer)
    if country and country not in EU_COUNTRIES:
        return "thirdPartyCountryService"
    return "net"


def plain_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _line(line: DocumentLine) -> dict[str, Any]:
    """One custom line; a line whose amount is not quantity times price becomes one unit of
    its net amount, so Lexware's totals equal ours."""
    exact = (line.quantity * line.unit_price).quantize(CENT) == line.net_amount.quantize(CENT)
    quantity, price = (line.quantity, line.unit_price) if exact else (Decimal(1), line.net_amount)
    return {
        "type": "custom",
        "name": line.description[:255] or "-",
        "quantity": float(quantity),
        "unitName": "Stück",
        "unitPrice": {
            "currency": "EUR",
            "netAmount": float(price.quantize(Decimal("0.0001"))),
            "taxRatePercentage": plain_number(line.vat_rate),
        },
    }


def voucher_payload(
    document: DocumentSnapshot, *, contact_id: str, reference: str
) -> dict[str, Any]:
    """An invoice or credit note, created as a draft; amounts are positive for both."""
    day = voucher_date(document.issue_date)
    payload: dict[str, Any] = {
        "voucherDate": day,
        "address": {"contactId": contact_id},
        "lineItems": [_line(line) for line in document.lines],
        "totalPrice": {"currency": "EUR"},
        "taxConditions": {"taxType": tax_type(document)},
        "shippingConditions": {"shippingDate": day, "shippingType": "service"},
        "introduction": introduction(document, reference),
    }
    if document.kind == "invoice" and document.due_date:
        days = max((document.due_date - document.issue_date).days, 0)
        payload["paymentConditions"] = {
            "paymentTermLabel": f"Zahlbar innerhalb von {days} Tagen",
            "paymentTermDuration": days,
        }
    return payload
