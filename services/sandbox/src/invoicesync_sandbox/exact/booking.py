"""Booking rules for sales entries: reference checks, VAT, and journal numbering.

``EntryNumber`` is the highest number in the journal plus one (the first one being
``YYJJ0001``), so deleting the newest entries hands their numbers out again; this is
the behaviour integrations meet in practice (see ACCOUNTING-APIS.md §1.3).
"""

from __future__ import annotations

import uuid
from collections.abc import Container, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from invoicesync_sandbox.exact import bounds
from invoicesync_sandbox.exact.errors import bad_request
from invoicesync_sandbox.exact.models import (
    Account,
    Division,
    PurchaseEntry,
    SalesEntry,
    SalesEntryLine,
)
from invoicesync_sandbox.exact.resource import Body, date, decimal, integer, text

ENTRY_TYPES = {20: "Sales entry", 21: "Sales credit note"}
PAYMENT_DAYS = 30
CENT = Decimal("0.01")
LINE_EXTRA = ("CostCenter", "CostUnit", "Project", "Quantity", "Notes", "From", "To")
LINE_PROPERTIES = frozenset(
    {"ID", "AmountDC", "AmountFC", "Description", "Division", "EntryID", "GLAccount",
     "GLAccountCode", "GLAccountDescription", "LineNumber", "VATAmountDC", "VATAmountFC",
     "VATBaseAmountDC", "VATBaseAmountFC", "VATCode", "VATCodeDescription", "VATPercentage",
     *LINE_EXTRA}
)  # fmt: skip


def check_line_body(body: Body, line_type: str, allow_entry_id: bool) -> None:
    """Exact's refusal of a property its line type doesn't have (sales and purchase alike)."""
    for name in body:
        if name not in LINE_PROPERTIES or (name == "EntryID" and not allow_entry_id):
            raise bad_request(
                "Error processing request stream. The property name "
                f"'{name}' specified for type '{line_type}' is not valid."
            )


Entry = SalesEntry | PurchaseEntry
REVENUE_TYPES = frozenset({110})


def next_entry_number(entries: Sequence[Entry], journal: str, entry_date: datetime) -> int:
    """Per journal: the sales and the purchase journals each keep their own counter."""
    numbers = [e.entry_number for e in entries if e.journal == journal]
    if numbers:
        return max(numbers) + 1
    prefix = f"{entry_date.year % 100:02d}{journal}" if journal.isdigit() else ""
    return int(f"{prefix}0001")


def find_customer(division: Division, value: object, role: str = "Customer") -> Account:
    account = division.accounts.get(as_guid(value, role))
    if account is None:
        raise bad_request(f"Invalid reference: {role}")
    if account.blocked:
        raise bad_request(f"Blocked: {role} {account.code.strip()} - {account.name}")
    return account


def as_guid(value: object, name: str) -> uuid.UUID:
    if value is None or value == "":
        raise bad_request(f"Mandatory: {name}")
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise bad_request(f"Invalid reference: {name}") from exc


def reference(
    body: Body, name: str, known: Container[uuid.UUID], guid_name: str | None = None
) -> uuid.UUID:
    """The id the body's ``name`` refers to, refused unless it is one of ``known``."""
    ident = as_guid(body.get(name), guid_name or name)
    if ident not in known:
        raise bad_request(f"Invalid reference: {name}")
    return ident


def check_journal(
    division: Division, code: str | None, journal_type: int = 20, kind: str = "sales"
) -> str:
    if not code:
        raise bad_request("Mandatory: Journal")
    journal = division.journals.get(code.strip())
    if journal is None:
        raise bad_request("Invalid reference: Journal")
    if journal.type != journal_type:
        raise bad_request(f"Invalid journal. The journal must be a {kind} journal.")
    return journal.code


def build_entry(division: Division, body: Body, now: datetime) -> SalesEntry:
    journal = check_journal(division, text(body, "Journal"))
    customer = find_customer(division, body.get("Customer"))
    entry_type = integer(body, "Type") or 20
    if entry_type not in ENTRY_TYPES:
        raise bad_request("Invalid value: Type")
    entry_date = entry_date_of(body) or now.replace(hour=0, minute=0, second=0, microsecond=0)
    entry = SalesEntry(
        journal=journal,
        entry_number=entry_number(
            list(division.entries.values()), journal, entry_date, integer(body, "EntryNumber")
        ),
        customer=customer.id,
        entry_date=entry_date,
        due_date=entry_date + timedelta(days=PAYMENT_DAYS),  # apply_header sets DueDate
        type=entry_type,
        created=now,
        modified=now,
    )
    apply_header(entry, body)
    return entry


def entry_number(entries: Sequence[Entry], journal: str, day: datetime, wanted: int | None) -> int:
    if wanted is None:
        return next_entry_number(entries, journal, day)
    used = any(e.journal == journal and e.entry_number == wanted for e in entries)
    if used:
        raise bad_request(f"Entry number {wanted} already exists in journal {journal}")
    return wanted


def entry_date_of(body: Body) -> datetime | None:
    """``EntryDate`` of a POST or PUT, within the range the sandbox books on."""
    entry_date = date(body, "EntryDate")
    bounds.check_date(entry_date, "EntryDate")
    return entry_date


def apply_header(entry: Entry, body: Body) -> None:
    """The header fields a POST or PUT may set besides the references."""
    bounds.check_currency(text(body, "Currency"))
    due_date = date(body, "DueDate")
    bounds.check_date(due_date, "DueDate")
    for name, attribute, limit in (
        ("YourRef", "your_ref", 30),
        ("Description", "description", 100),
        ("PaymentReference", "payment_reference", 50),
        ("Currency", "currency", 3),
    ):
        if name in body:
            setattr(entry, attribute, text(body, name, limit))
    entry.due_date = due_date or entry.due_date


def lines_of(body: Body, name: str = "SalesEntryLines") -> list[Body]:
    lines = body.get(name)
    if isinstance(lines, dict):
        lines = lines.get("results")
    if not isinstance(lines, list) or not lines:
        raise bad_request(f"Mandatory: {name}")
    if not all(isinstance(line, dict) for line in lines):
        raise bad_request(f"Invalid value: {name}")
    return lines


def build_line(
    division: Division, entry: Entry, body: Body, gl_types: frozenset[int] = REVENUE_TYPES
) -> SalesEntryLine:
    gl_id = as_guid(body.get("GLAccount"), "GLAccount")
    gl = division.gl_accounts.get(gl_id)
    if gl is None:
        raise bad_request("Invalid reference: GLAccount")
    if gl.type not in gl_types:
        raise bad_request("Invalid: G/L account type")
    amount = decimal(body, "AmountFC")
    if amount is None:
        raise bad_request("Mandatory: AmountFC")
    bounds.check_amount(amount, "AmountFC")
    bounds.check_amount(decimal(body, "AmountDC"), "AmountDC")
    vat_code = _vat_code(division, text(body, "VATCode"), gl.vat_code)
    percentage = division.vat_codes[vat_code].percentage if vat_code else Decimal(0)
    vat_amount = decimal(body, "VATAmountFC")
    if vat_amount is None:
        vat_amount = (amount * percentage).quantize(CENT, ROUND_HALF_UP)
    number = max((line.line_number for line in entry.lines), default=0) + 1
    line = SalesEntryLine(
        entry_id=entry.id,
        line_number=number,
        gl_account=gl.id,
        amount_fc=amount,
        vat_code=vat_code,
        vat_percentage=percentage,
        vat_amount_fc=vat_amount,
        description=text(body, "Description", 100),
    )
    line.extra = _line_extra(body)
    return line


def _line_extra(body: Body) -> dict[str, object]:
    """CostCenter, Quantity, From/To, ...: kept, typed, and echoed back on reads."""
    extra: dict[str, object] = {}
    for name in LINE_EXTRA:
        if body.get(name) is None:
            continue
        if name == "Quantity":
            extra[name] = decimal(body, name)
        elif name in ("From", "To"):
            extra[name] = date(body, name)
        else:
            extra[name] = text(body, name)
    return extra


def _vat_code(division: Division, given: str | None, default: str | None) -> str | None:
    """Match a VAT code ignoring Exact's trailing-space padding ("2" finds "2  ")."""
    wanted = given if given is not None else default
    if wanted is None or not wanted.strip():
        return None
    for code in division.vat_codes:
        if code.strip() == wanted.strip():
            return code
    raise bad_request("Invalid reference: VATCode")
