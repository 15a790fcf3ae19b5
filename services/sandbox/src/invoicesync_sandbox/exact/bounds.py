"""What a sales entry may hold: ISO 4217 currencies, dates within a range, amounts in cents.

Exact refuses at its door what it cannot book, with its usual 400 and OData error body.
Currencies are ISO 4217 codes; which of them one administration takes (those it has set
up) is not modelled, so any ISO 4217 code passes. The date range (1900-01-01 to
2099-12-31) and the amount precision and size (2 decimals, below 10^13) are
**unverified**: they were not found in Exact's public documentation, so the sandbox takes
the strict choice and refuses what a real administration might still accept, so that no
connector comes to rely on it. The exact wording of Exact's messages is not known either.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pycountry

from invoicesync_sandbox.exact.errors import bad_request

# Every code pycountry keeps for ISO 4217 (from Debian's iso-codes), funds and metals too.
CURRENCIES = frozenset(c.alpha_3 for c in pycountry.currencies)
# Unverified, strict: the first and last day the sandbox books on.
EARLIEST = datetime(1900, 1, 1)
LATEST = datetime(2099, 12, 31, 23, 59, 59, 999999)
# Unverified, strict: amounts in cents (2 decimals), below 10^13 in absolute value.
CENT = Decimal("0.01")
AMOUNT_LIMIT = Decimal(10) ** 13


def check_currency(value: str | None) -> None:
    if value is not None and value not in CURRENCIES:
        raise bad_request(f"Invalid value: Currency '{value}' is not a known currency")


def check_date(value: datetime | None, name: str) -> None:
    if value is not None and not EARLIEST <= value <= LATEST:
        raise bad_request(f"Invalid value: {name} must lie between 1900-01-01 and 2099-12-31")


def check_amount(value: Decimal | None, name: str) -> None:
    """Refuse a non-finite amount, one of 10^13 or more, or one with a third non-zero
    decimal ("1.230" is fine, "1.235" is not)."""
    if value is None:
        return
    if not value.is_finite():
        raise bad_request(f"Invalid value: {name}")
    if abs(value) >= AMOUNT_LIMIT:
        raise bad_request(f"Invalid value: {name} is too large")
    if value != value.quantize(CENT):
        raise bad_request(f"Invalid value: {name} has more than 2 decimals")
