"""cashflow/Payments: what the division owes its suppliers, one row per purchase entry.

The purchase side of cashflow/Receivables, as Exact's own field documentation describes
it: the row (key ``ID``) links its entry through ``TransactionEntryID``
(= PurchaseEntries.EntryID); ``Status`` is 20 (open), 30 (selected to be paid), 40
(processed: the bank file was made) or 50 (matched with the bank statement line, or with
other outstanding items). Unlike a receivable, a payment row has no ``IsFullyPaid`` and no
``LastPaymentDate``: only ``Status`` 50 says the entry is settled, so asking for those
fields is refused as for any unknown property. The sandbox shows 20 until the payments
registered through the control plane (``…/entries/{id}/payment``) cover the entry, then 50
with ``EndDate`` set. Unverified: the sign of a purchase entry's amounts here (the sandbox
shows the entry's amount as it is).
"""

from __future__ import annotations

from invoicesync_sandbox.exact.models import Division, PurchaseEntry
from invoicesync_sandbox.exact.odata import Row
from invoicesync_sandbox.exact.receivables import cashflow_row
from invoicesync_sandbox.exact.resource import Call, Resource


class Payments(Resource):
    path = "cashflow/Payments"
    type_name = "Exact.Web.Api.Models.Cashflow.Payment"
    properties = frozenset(
        {"ID", "Account", "AccountCode", "AccountName", "AmountDC", "AmountFC", "Currency",
         "Description", "Division", "DueDate", "EndDate", "EntryDate", "EntryNumber",
         "InvoiceDate", "InvoiceNumber", "Journal", "JournalDescription", "Status",
         "TransactionAmountDC", "TransactionAmountFC", "TransactionEntryID",
         "TransactionType", "YourRef"}
    )  # fmt: skip

    def rows(self, call: Call) -> list[Row]:
        division = call.div()
        return [
            _payment_row(division, entry)
            for entry in division.purchase_entries.values()
            if call.sees(entry)
        ]


def _payment_row(division: Division, entry: PurchaseEntry) -> Row:
    return cashflow_row(division, entry, entry.supplier, row_id=entry.payment_id)
