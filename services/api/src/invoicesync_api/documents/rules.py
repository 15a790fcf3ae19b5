"""What no accounting system takes, refused at the door: the bounds of a document's text,
currency, amounts and dates. Checked on POST and PATCH alike, before anything is stored or
sent, so a document that gets a 201 is one Exact Online, Lexware Office and Yuki can book.

Amount limits, and why:

* Amounts with cents (a line's net and VAT, a document's net, VAT and gross totals) stay
  below 10^12 in magnitude: at most 14 significant digits, which Exact's Edm.Double carries
  exactly to the cent (a double holds 15), Lexware's two-decimal totals and Yuki's decimals
  take, and numeric(18,2) (documents' totals, 16 whole digits) and the API's own money
  strings (14 whole digits) store with room to spare. Beyond them the API used to answer 500.
* Quantities and unit prices (up to 4 decimals, Lexware's most for unit prices) stay below
  10^11: at most 15 significant digits, still exact in a double.
"""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pycountry

from invoicesync_api.errors.exceptions import ValidationFailed
from invoicesync_api.i18n.catalog import N_
from invoicesync_shared import clock

CENT = Decimal("0.01")
AMOUNT_LIMIT = Decimal(10) ** 12  # exclusive, for amounts in cents (lines and totals)
PRICE_LIMIT = Decimal(10) ** 11  # exclusive, for quantities and unit prices (4 decimals)
EARLIEST_DATE = date(2000, 1, 1)

# ISO 4217's list as pycountry keeps it (from Debian's iso-codes), less the codes that are
# no money to invoice in: precious metals, units of account, the test and "no currency" codes.
NOT_MONEY = frozenset(
    {"XAD", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA"}
    | {"XXX"}
)
CURRENCIES = frozenset(c.alpha_3 for c in pycountry.currencies) - NOT_MONEY

# Control characters (Cc) and unpaired surrogates (Cs); single-line text also refuses the
# Unicode line and paragraph separators. Multi-line text (a line's description) keeps
# tabs and line breaks.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs"})
_LINE_BREAKS = frozenset({"Zl", "Zp"})
_MULTILINE_ALLOWED = frozenset("\t\n\r")


def control_character(text: str, *, multiline: bool = False) -> str | None:
    """The first character no accounting system takes in this text, or None."""
    for char in text:
        category = unicodedata.category(char)
        if multiline and char in _MULTILINE_ALLOWED:
            continue
        if category in _REFUSED_CATEGORIES or (not multiline and category in _LINE_BREAKS):
            return char
    return None


def line_amounts(
    quantity: Decimal, unit_price: Decimal, vat_rate: Decimal
) -> tuple[Decimal, Decimal]:
    """A line's net and VAT: cents rounded half-up, the VAT on the rounded net."""
    net = (quantity * unit_price).quantize(CENT, ROUND_HALF_UP)
    vat = (net * vat_rate / 100).quantize(CENT, ROUND_HALF_UP)
    return net, vat


def too_large(amount: Decimal) -> bool:
    return abs(amount) >= AMOUNT_LIMIT


def latest_date(max_days_ahead: int) -> date:
    """The last issue or due date taken: ``max_days_ahead`` after today by the project's
    clock (which tests and the dev stack move with the sandbox's)."""
    return clock.now().date() + timedelta(days=max_days_ahead)


def check_dates(
    dates: dict[str, date | None], *, max_days_ahead: int, issue_date: date | None = None
) -> None:
    """Every named date from 2000-01-01 to ``max_days_ahead`` days from today, and a due
    date not before ``issue_date``; all refusals at once, each naming its field."""
    latest = latest_date(max_days_ahead)
    errors: list[dict[str, object]] = []
    due_date = dates.get("due_date")
    if due_date is not None and issue_date is not None and due_date < issue_date:
        errors.append(
            {
                "field": "due_date",
                "message": N_("due_date is before issue_date"),
                "params": {},
                "type": "date_before_issue_date",
            }
        )
    for field, value in dates.items():
        if value is None:
            continue
        if value < EARLIEST_DATE:
            errors.append(
                {
                    "field": field,
                    "message": N_("is {value}, before {earliest}"),
                    "params": {"value": str(value), "earliest": str(EARLIEST_DATE)},
                    "type": "date_too_early",
                }
            )
        elif value > latest:
            errors.append(
                {
                    "field": field,
                    "message": N_("is {value}, more than {days} days ahead (latest {latest})"),
                    "params": {"value": str(value), "days": max_days_ahead, "latest": str(latest)},
                    "type": "date_too_far_ahead",
                }
            )
    if errors:
        raise ValidationFailed(errors)
