"""Payment state read-back: read/financial/ReceivablesList and cashflow/Receivables.

How the real host shows it (picqer's models of both endpoints, Exact's field docs):
- ``read/financial/ReceivablesList`` lists *outstanding items* only (key ``HID``); its
  ``Amount`` is what is still open. A fully paid entry is absent; a part-paid one shows
  the rest. Credit notes appear with a negative amount.
- ``cashflow/Receivables`` keeps one row per sales entry (key ``ID``), linked through
  ``TransactionEntryID`` (= SalesEntries.EntryID). ``Status`` is 20 (open) until the
  entry is fully paid, then 50 (matched) with ``IsFullyPaid`` true and ``EndDate`` set.
Payments are registered through the control plane (``…/entries/{id}/payment``).
"""

from __future__ import annotations

import uuid

from invoicesync_sandbox.exact.models import Division, PurchaseEntry, SalesEntry
from invoicesync_sandbox.exact.odata import Row
from invoicesync_sandbox.exact.resource import Call, Resource

STATUS_OPEN = 20
STATUS_MATCHED = 50


def is_fully_paid(entry: SalesEntry | PurchaseEntry) -> bool:
    return bool(entry.payments) and entry.open_amount() == 0


class ReceivablesList(Resource):
    path = "read/financial/ReceivablesList"
    type_name = "Exact.Web.Api.Models.Financial.ReceivablesListItem"
    key = "HID"
    properties = frozenset(
        {"HID", "AccountCode", "AccountId", "AccountName", "Amount", "AmountInTransit",
         "CurrencyCode", "Description", "DueDate", "EntryNumber", "Id", "InvoiceDate",
         "InvoiceNumber", "JournalCode", "JournalDescription", "YourRef"}
    )  # fmt: skip

    def rows(self, call: Call) -> list[Row]:
        division = call.div()
        return [_list_row(division, entry) for entry in call.entries() if entry.open_amount() != 0]

    def seq(self, call: Call, key: object) -> int:
        return key if isinstance(key, int) else 0


def _list_row(division: Division, entry: SalesEntry) -> Row:
    account = division.accounts.get(entry.customer)
    journal = division.journals.get(entry.journal)
    return {
        "HID": entry.receivable_hid,
        "AccountCode": account.code if account else None,
        "AccountId": entry.customer,
        "AccountName": account.name if account else None,
        "Amount": entry.open_amount(),
        "AmountInTransit": 0,
        "CurrencyCode": entry.currency,
        "Description": entry.description,
        "DueDate": entry.due_date,
        "EntryNumber": entry.entry_number,
        "Id": entry.receivable_id,
        "InvoiceDate": entry.entry_date,
        "InvoiceNumber": entry.entry_number,
        "JournalCode": entry.journal,
        "JournalDescription": journal.description if journal else None,
        "YourRef": entry.your_ref,
    }


class Receivables(Resource):
    path = "cashflow/Receivables"
    type_name = "Exact.Web.Api.Models.Cashflow.Receivable"
    properties = frozenset(
        {"ID", "Account", "AccountCode", "AccountName", "AmountDC", "AmountFC", "Currency",
         "Description", "Division", "DueDate", "EndDate", "EntryDate", "EntryNumber",
         "InvoiceDate", "InvoiceNumber", "IsFullyPaid", "Journal", "JournalDescription",
         "LastPaymentDate", "Status", "TransactionAmountDC", "TransactionAmountFC",
         "TransactionEntryID", "TransactionType", "YourRef"}
    )  # fmt: skip

    def rows(self, call: Call) -> list[Row]:
        division = call.div()
        return [_cashflow_row(division, entry) for entry in call.entries()]

    def seq(self, call: Call, key: object) -> int:
        division = call.div()
        if key not in _ENTRY_OF:
            _ENTRY_OF.update({e.receivable_id: e.id for e in division.entries.values()})
        entry_id = _ENTRY_OF.get(key)
        return division.seq.get(entry_id, 0) if entry_id is not None else 0


# Receivable id → its entry's id (both never change), filled a division at a time on a
# miss: ordering a page of n rows looks each up once instead of scanning every entry per
# row (a reconciliation's 17 pages of a 1,000-entry division took 30 s that way).
_ENTRY_OF: dict[object, uuid.UUID] = {}


def _cashflow_row(division: Division, entry: SalesEntry) -> Row:
    paid = is_fully_paid(entry)
    last_payment = max((p.paid_at for p in entry.payments), default=None)
    return {
        **cashflow_row(division, entry, entry.customer, row_id=entry.receivable_id),
        "IsFullyPaid": paid,
        "LastPaymentDate": last_payment,
    }


def cashflow_row(
    division: Division,
    entry: SalesEntry | PurchaseEntry,
    account_id: uuid.UUID,
    *,
    row_id: uuid.UUID,
) -> Row:
    """The fields a receivable and a payment (cashflow/Payments) share: the entry's, its
    account's, and whether payments cover it (``Status``, ``EndDate``)."""
    account = division.accounts.get(account_id)
    journal = division.journals.get(entry.journal)
    paid = is_fully_paid(entry)
    return {
        "ID": row_id,
        "Account": account_id,
        "AccountCode": account.code if account else None,
        "AccountName": account.name if account else None,
        "AmountDC": entry.amount(),
        "AmountFC": entry.amount(),
        "Currency": entry.currency,
        "Description": entry.description,
        "Division": division.code,
        "DueDate": entry.due_date,
        "EndDate": max(p.paid_at for p in entry.payments) if paid else None,
        "EntryDate": entry.entry_date,
        "EntryNumber": entry.entry_number,
        "InvoiceDate": entry.entry_date,
        "InvoiceNumber": entry.entry_number,
        "Journal": entry.journal,
        "JournalDescription": journal.description if journal else None,
        "Status": STATUS_MATCHED if paid else STATUS_OPEN,
        "TransactionAmountDC": entry.amount(),
        "TransactionAmountFC": entry.amount(),
        "TransactionEntryID": entry.id,
        "TransactionType": entry.type,
        "YourRef": entry.your_ref,
    }
