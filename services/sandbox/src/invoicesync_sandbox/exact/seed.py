"""The master data every new division starts with: journals, G/L accounts and VAT codes.

Modelled on a Dutch Exact Online company: sales journal 70, purchase journals
60/61, receivables 1300, payables 1600, costs 7000/4000, revenue 8000/8010/8020 and the
VAT codes 0/1/2 (0 %, 9 %, 21 %), stored padded as Exact does.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from invoicesync_sandbox.exact.accounts import pad_code
from invoicesync_sandbox.exact.models import Account, Division, GLAccount, Journal, VATCode

SALES_JOURNAL = "70"
CREDIT_NOTE_JOURNAL = "70"  # Exact books sales credit notes (Type 21) in the sales journal
PURCHASE_JOURNAL = "60"  # purchase entries (Type 30) and purchase credit notes (31)
RECEIPTS_JOURNAL = "61"  # a second purchase journal, with its own counter

JOURNALS = [
    (SALES_JOURNAL, "Sales journal", 20),
    (PURCHASE_JOURNAL, "Purchase journal", 22),
    (RECEIPTS_JOURNAL, "Purchase journal receipts", 22),
    ("20", "Bank", 12),
    ("90", "General journal", 90),
]
VAT_CODES = [
    ("0  ", "VAT 0%", "0", "E"),
    ("1  ", "VAT low 9%", "0.09", "E"),
    ("2  ", "VAT high 21%", "0.21", "E"),
]
GL_ACCOUNTS = [
    ("1300", "Accounts receivable", 20, None),
    ("1500", "VAT payable high", 24, None),
    ("1600", "Accounts payable", 22, None),
    ("7000", "Cost of goods", 111, "2  "),
    ("4000", "General expenses", 121, "2  "),
    ("8000", "Revenue high VAT rate", 110, "2  "),
    ("8010", "Revenue low VAT rate", 110, "1  "),
    ("8020", "Revenue zero VAT rate", 110, "0  "),
]
# The demo company's suppliers, for trying purchase entries by hand. Codes are not numeric,
# so the next customer code Exact hands out in the demo division stays 1.
SUPPLIERS = [
    ("S1001", "Kantoorartikelen Jansen BV", "NL001234567B01", "12345678"),
    ("S1002", "Drukkerij De Vries", "NL009876543B01", "87654321"),
]
GL_TYPES = {
    20: "Accounts receivable",
    22: "Accounts payable",
    24: "VAT",
    110: "Revenue",
    111: "Cost of goods",
    121: "General expenses",
}


def seed_division(division: Division) -> None:
    for code, description, journal_type in JOURNALS:
        journal = Journal(code=code, description=description, type=journal_type)
        division.journals[code] = journal
    for code, description, percentage, vat_type in VAT_CODES:
        vat = VATCode(code, description, Decimal(percentage), vat_type)
        division.vat_codes[code] = vat
    for code, description, gl_type, vat_code in GL_ACCOUNTS:
        account = GLAccount(code=code, description=description, type=gl_type, vat_code=vat_code)
        division.gl_accounts[account.id] = account
        division.remember(account.id)
    for journal in division.journals.values():
        division.remember(journal.id)
    for vat in division.vat_codes.values():
        division.remember(vat.id)


def seed_suppliers(division: Division, now: datetime) -> None:
    """Supplier accounts (``IsSupplier``), as a bookkeeper would have set them up."""
    for code, name, vat_number, coc in SUPPLIERS:
        if any(a.code == pad_code(code) for a in division.accounts.values()):
            continue
        extra: dict[str, object] = {
            "IsSupplier": True,
            "VATNumber": vat_number,
            "ChamberOfCommerce": coc,
        }
        account = Account(
            code=pad_code(code), name=name, created=now, modified=now, is_sales=False, extra=extra
        )
        division.accounts[account.id] = account
        division.remember(account.id)
