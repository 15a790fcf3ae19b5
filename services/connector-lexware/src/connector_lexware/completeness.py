"""What Lexware Office needs before a send, checked without a single call: every missing
field is named at once, so the bookkeeper fixes them in one go."""

from __future__ import annotations

from decimal import Decimal

from connector_lexware.mapping import country_of, is_foreign_eu_company
from invoicesync_shared.connectors.errors import PermanentError
from invoicesync_shared.events.documents import (
    Address,
    CompanyData,
    DocumentLine,
    DocumentSnapshot,
)

# The VAT rates Lexware Office accepts on sales vouchers (Germany, incl. the 2020 rates).
LEXWARE_VAT_RATES = frozenset(Decimal(r) for r in (0, 5, 7, 16, 19))
ADDRESS_FIELDS = ("street", "postal_code", "city")


def _address_gaps(prefix: str, address: Address | None) -> list[str]:
    address = address or Address()
    return [
        f"{prefix}.address.{name}"
        for name in ADDRESS_FIELDS
        if not (getattr(address, name) or "").strip()
    ]


def _company_gaps(company: CompanyData | None) -> list[str]:
    if company is None:
        return ["company.name", *_address_gaps("company", None), "company.country"]
    gaps = [] if company.name.strip() else ["company.name"]
    gaps += _address_gaps("company", company.address)
    return gaps + ([] if country_of(company) else ["company.country"])


def missing_fields(document: DocumentSnapshot) -> list[str]:
    """Dotted names of every field Lexware needs that the document lacks."""
    customer = document.customer
    gaps = _company_gaps(document.company)
    gaps += [] if customer.name.strip() else ["customer.name"]
    gaps += _address_gaps("customer", customer.address)
    gaps += [] if country_of(customer) else ["customer.address.country"]
    home = country_of(document.company) if document.company else None
    if is_foreign_eu_company(customer, home) and not (customer.vat_number or "").strip():
        gaps.append("customer.vat_number")
    return gaps


def incomplete(document: DocumentSnapshot) -> PermanentError | None:
    if gaps := missing_fields(document):
        return PermanentError(
            "incomplete_data",
            "Missing before sending to Lexware Office / Vor dem Senden an Lexware Office "
            f"fehlt: {', '.join(gaps)}",
        )
    return None


def unsupported_currency(document: DocumentSnapshot) -> PermanentError | None:
    if document.currency.upper() != "EUR":
        return PermanentError(
            "unsupported_currency",
            f"Lexware Office books in EUR only; this document is in {document.currency}.",
        )
    return None


def unsupported_rates(lines: list[DocumentLine]) -> PermanentError | None:
    rates = sorted({line.vat_rate for line in lines} - LEXWARE_VAT_RATES)
    if rates:
        return PermanentError(
            "unsupported_vat_rate",
            f"Lexware Office does not accept the VAT rate(s) {', '.join(map(str, rates))} %.",
        )
    return None


def check(document: DocumentSnapshot) -> None:
    """Raises ``PermanentError`` (incomplete_data, unsupported_currency or
    unsupported_vat_rate) when Lexware would refuse the document."""
    for refusal in (
        incomplete(document),
        unsupported_currency(document),
        unsupported_rates(document.lines),
    ):
        if refusal is not None:
            raise refusal
