"""Plain-JSON views of a division for the control plane: what tests and chaos checks
compare against (entries with numbers and references, accounts, master data).
"""

from __future__ import annotations

import hashlib
from typing import Any

from invoicesync_sandbox.exact.models import (
    Account,
    Division,
    PurchaseEntry,
    SalesEntry,
    SalesEntryLine,
)
from invoicesync_sandbox.exact.receivables import STATUS_MATCHED, STATUS_OPEN, is_fully_paid
from invoicesync_sandbox.exact.seed import CREDIT_NOTE_JOURNAL, PURCHASE_JOURNAL, SALES_JOURNAL


def division_summary(division: Division) -> dict[str, Any]:
    return {
        "division": division.code,
        "description": division.description,
        "sales_journal": SALES_JOURNAL,
        "credit_note_journal": CREDIT_NOTE_JOURNAL,
        "purchase_journal": PURCHASE_JOURNAL,
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
        "purchase_entries": [_purchase(e) for e in division.purchase_entries.values()],
        "documents": [
            {
                "id": str(d.id),
                "subject": d.subject,
                "type": d.type,
                "account": str(d.account) if d.account else None,
                "entry_id": str(d.entry_id) if d.entry_id else None,
                "attachments": [
                    {
                        "id": str(a.id),
                        "file_name": a.file_name,
                        "file_size": len(a.data),
                        "sha256": hashlib.sha256(a.data).hexdigest(),
                    }
                    for a in division.attachments.values()
                    if a.document == d.id
                ],
            }
            for d in division.documents.values()
        ],
    }


def _purchase(entry: PurchaseEntry) -> dict[str, Any]:
    paid = is_fully_paid(entry)
    return _entry(
        entry,
        supplier=str(entry.supplier),
        document=str(entry.document) if entry.document else None,
        open_amount=str(entry.open_amount()),
        is_fully_paid=paid,
        payment_status=STATUS_MATCHED if paid else STATUS_OPEN,
    )


def _account(account: Account) -> dict[str, Any]:
    return {
        "id": str(account.id),
        "code": account.code,
        "name": account.name,
        "status": account.status,
        "blocked": account.blocked,
        "is_supplier": account.extra.get("IsSupplier") is True,
        "vat_number": account.extra.get("VATNumber"),
        "chamber_of_commerce": account.extra.get("ChamberOfCommerce"),
    }


def entry_summary(division: Division, entry: SalesEntry | PurchaseEntry) -> dict[str, Any]:
    """A sales or purchase entry as the state shows it (a payment's answer)."""
    if isinstance(entry, PurchaseEntry):
        return _purchase(entry)
    paid = is_fully_paid(entry)
    return _entry(
        entry,
        description=entry.description,
        customer=str(entry.customer),
        open_amount=str(entry.open_amount()),
        is_fully_paid=paid,
        receivable_status=STATUS_MATCHED if paid else STATUS_OPEN,
    )


def _entry(entry: SalesEntry | PurchaseEntry, **own: Any) -> dict[str, Any]:
    """What the state shows of a sales or purchase entry, with ``own`` the kind's fields."""
    return {
        "entry_id": str(entry.id),
        "entry_number": entry.entry_number,
        "journal": entry.journal,
        "type": entry.type,
        "your_ref": entry.your_ref,
        "entry_date": entry.entry_date.date().isoformat(),
        "amount": str(entry.amount()),
        "vat_amount": str(entry.vat_amount()),
        **own,
        "lines": [_line(line) for line in entry.lines],
    }


def _line(line: SalesEntryLine) -> dict[str, Any]:
    return {
        "id": str(line.id),
        "gl_account": str(line.gl_account),
        "amount": str(line.amount_fc),
        "vat_code": line.vat_code,
        "vat_amount": str(line.vat_amount_fc),
        "description": line.description,
    }
