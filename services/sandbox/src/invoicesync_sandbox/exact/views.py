"""Plain-JSON views of a division for the control plane: what tests and chaos checks
compare against (entries with numbers and references, accounts, master data).
"""

from __future__ import annotations

from typing import Any

from invoicesync_sandbox.exact.models import Account, Division, SalesEntry
from invoicesync_sandbox.exact.receivables import STATUS_MATCHED, STATUS_OPEN, is_fully_paid
from invoicesync_sandbox.exact.seed import CREDIT_NOTE_JOURNAL, SALES_JOURNAL


def division_summary(division: Division) -> dict[str, Any]:
    return {
        "division": division.code,
        "description": division.description,
        "sales_journal": SALES_JOURNAL,
        "credit_note_journal": CREDIT_NOTE_JOURNAL,
        "journals": [
            {"id": str(j.id), "code": j.code, "description": j.description, "type": j.type}
            for j in division.journals.values()
        ],
        "gl_accounts": [
            {
                "id": str(g.id),
                "code": g.code,
                "description": g.description,
                "type": g.type,
                "vat_code": g.vat_code,
            }
            for g in division.gl_accounts.values()
        ],
        "vat_codes": [
            {"code": v.code, "description": v.description, "percentage": str(v.percentage)}
            for v in division.vat_codes.values()
        ],
    }


def division_state(division: Division) -> dict[str, Any]:
    return {
        **division_summary(division),
        "accounts": [_account(a) for a in division.accounts.values()],
        "entries": [entry_summary(division, e) for e in division.entries.values()],
    }


def _account(account: Account) -> dict[str, Any]:
    return {
        "id": str(account.id),
        "code": account.code,
        "name": account.name,
        "status": account.status,
        "blocked": account.blocked,
        "vat_number": account.extra.get("VATNumber"),
        "chamber_of_commerce": account.extra.get("ChamberOfCommerce"),
    }


def entry_summary(division: Division, entry: SalesEntry) -> dict[str, Any]:
    paid = is_fully_paid(entry)
    return {
        "entry_id": str(entry.id),
        "entry_number": entry.entry_number,
        "journal": entry.journal,
        "type": entry.type,
        "your_ref": entry.your_ref,
        "description": entry.description,
        "customer": str(entry.customer),
        "entry_date": entry.entry_date.date().isoformat(),
        "amount": str(entry.amount()),
        "vat_amount": str(entry.vat_amount()),
        "open_amount": str(entry.open_amount()),
        "is_fully_paid": paid,
        "receivable_status": STATUS_MATCHED if paid else STATUS_OPEN,
        "lines": [
            {
                "id": str(line.id),
                "gl_account": str(line.gl_account),
                "amount": str(line.amount_fc),
                "vat_code": line.vat_code,
                "vat_amount": str(line.vat_amount_fc),
                "description": line.description,
            }
            for line in entry.lines
        ],
    }
