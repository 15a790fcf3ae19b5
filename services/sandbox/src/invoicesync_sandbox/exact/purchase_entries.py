"""purchaseentry/PurchaseEntries and purchaseentry/PurchaseEntryLines: booked purchase
invoices (Type 30) and purchase credit notes (31) in a purchase journal.

The same booking rules as sales entries (``booking.py``): lines inline on create, G/L and
VAT checks, ``EntryNumber`` from the journal's own counter. Lines take cost accounts.
Unverified against the real host: that a non-supplier account is refused (the sandbox
wants ``IsSupplier``), and that ``Document`` links the document back to the entry.
"""

from __future__ import annotations

from datetime import timedelta

from invoicesync_sandbox.exact import booking
from invoicesync_sandbox.exact.entries import EntryKind, EntryLineResource, EntryResource
from invoicesync_sandbox.exact.errors import bad_request
from invoicesync_sandbox.exact.models import Division, PurchaseEntry
from invoicesync_sandbox.exact.odata import Row
from invoicesync_sandbox.exact.resource import Body, Call, integer, text

ENTRY_TYPES = {30: "Purchase entry", 31: "Purchase credit note"}
PURCHASE_JOURNAL_TYPE = 22
COST_TYPES = frozenset({111, 120, 121, 122, 123, 125, 126, 130})
LINE_TYPE = "Exact.Web.Api.Models.PurchaseEntryLine"
ENTRY_PROPERTIES = frozenset(
    {"EntryID", "AmountDC", "AmountFC", "Currency", "Description", "Division", "Document",
     "DueDate", "EntryDate", "EntryNumber", "Journal", "JournalDescription",
     "PaymentReference", "Rate", "ReportingPeriod", "ReportingYear", "Reversal", "Status",
     "StatusDescription", "Supplier", "SupplierName", "Type", "TypeDescription",
     "VATAmountDC", "VATAmountFC", "YourRef", "Created", "Modified"}
)  # fmt: skip


PURCHASE: EntryKind[PurchaseEntry] = EntryKind(
    store=lambda division: division.purchase_entries,
    party="Supplier",
    party_of=lambda entry: entry.supplier,
    type_descriptions=ENTRY_TYPES,
    own_columns=lambda entry: {"Document": entry.document},
)


class PurchaseEntries(EntryResource):
    path = "purchaseentry/PurchaseEntries"
    type_name = "Exact.Web.Api.Models.PurchaseEntry"
    kind = PURCHASE
    properties = ENTRY_PROPERTIES
    navigations = ("PurchaseEntryLines",)

    def create(self, call: Call, body: Body) -> Row:
        self.check_body(body)
        division = call.div()
        entry = _build_entry(division, body, call)
        for line_body in booking.lines_of(body, "PurchaseEntryLines"):
            _check_line_body(line_body)
            entry.lines.append(booking.build_line(division, entry, line_body, COST_TYPES))
        division.purchase_entries[entry.id] = entry
        division.remember(entry.id)
        division.remember(entry.payment_id)  # its cashflow/Payments row, in the same order
        for line in entry.lines:
            division.remember(line.id)
        if entry.document is not None:
            document = division.documents[entry.document]
            document.entry_id = document.entry_id or entry.id
        return PURCHASE.row(division, entry)

    def delete(self, call: Call, key: object) -> None:
        """As a bookkeeper deletes a purchase entry in Exact (DELETE is one of the
        resource's documented methods); its document stays (whether Exact unlinks it is
        unverified: the sandbox leaves ``FinancialTransactionEntryID`` as it was)."""
        division = call.div()
        del division.purchase_entries[PURCHASE.find(call, key).id]


class PurchaseEntryLines(EntryLineResource):
    path = "purchaseentry/PurchaseEntryLines"
    type_name = LINE_TYPE
    kind = PURCHASE


def _build_entry(division: Division, body: Body, call: Call) -> PurchaseEntry:
    journal = booking.check_journal(
        division, text(body, "Journal"), PURCHASE_JOURNAL_TYPE, "purchase"
    )
    supplier = booking.find_customer(division, body.get("Supplier"), "Supplier")
    if supplier.extra.get("IsSupplier") is not True:
        raise bad_request(f"Not a supplier: {supplier.code.strip()} - {supplier.name}")
    entry_type = integer(body, "Type") or 30
    if entry_type not in ENTRY_TYPES:
        raise bad_request("Invalid value: Type")
    document = None
    if body.get("Document") is not None:
        document = booking.reference(body, "Document", division.documents)
    now = call.now
    entry_date = booking.entry_date_of(body) or now.replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    entries = list(division.purchase_entries.values())
    wanted = integer(body, "EntryNumber")
    entry = PurchaseEntry(
        journal=journal,
        entry_number=booking.entry_number(entries, journal, entry_date, wanted),
        supplier=supplier.id,
        entry_date=entry_date,
        due_date=entry_date + timedelta(days=booking.PAYMENT_DAYS),
        type=entry_type,
        created=now,
        modified=now,
        document=document,
    )
    booking.apply_header(entry, body)
    return entry


def _check_line_body(body: Body) -> None:
    booking.check_line_body(body, LINE_TYPE, allow_entry_id=False)
