"""purchaseentry/PurchaseEntries and purchaseentry/PurchaseEntryLines: booked purchase
invoices (Type 30) and purchase credit notes (31) in a purchase journal.

The same booking rules as sales entries (``booking.py``): lines inline on create, G/L and
VAT checks, ``EntryNumber`` from the journal's own counter. Lines take cost accounts.
Unverified against the real host: that a non-supplier account is refused (the sandbox
wants ``IsSupplier``), and that ``Document`` links the document back to the entry.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from invoicesync_sandbox.exact import booking
from invoicesync_sandbox.exact.errors import bad_request, not_found
from invoicesync_sandbox.exact.models import Division, PurchaseEntry
from invoicesync_sandbox.exact.odata import Row
from invoicesync_sandbox.exact.resource import Body, Call, Resource, integer, text
from invoicesync_sandbox.exact.sales_entries import line_row

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
LINE_PROPERTIES = booking.LINE_PROPERTIES


def find_entry(call: Call, key: object) -> PurchaseEntry:
    entry = call.div().purchase_entries.get(key) if isinstance(key, uuid.UUID) else None
    if entry is None or not call.sees(entry):
        raise not_found()
    return entry


class PurchaseEntries(Resource):
    path = "purchaseentry/PurchaseEntries"
    type_name = "Exact.Web.Api.Models.PurchaseEntry"
    key = "EntryID"
    properties = ENTRY_PROPERTIES
    navigations = ("PurchaseEntryLines",)

    def rows(self, call: Call) -> list[Row]:
        division = call.div()
        return [entry_row(division, e) for e in call.purchase_entries()]

    def row(self, call: Call, key: object) -> Row:
        return entry_row(call.div(), find_entry(call, key))

    def create(self, call: Call, body: Body) -> Row:
        self.check_body(body)
        division = call.div()
        entry = _build_entry(division, body, call)
        for line_body in booking.lines_of(body, "PurchaseEntryLines"):
            _check_line_body(line_body)
            entry.lines.append(booking.build_line(division, entry, line_body, COST_TYPES))
        division.purchase_entries[entry.id] = entry
        division.remember(entry.id)
        for line in entry.lines:
            division.remember(line.id)
        if entry.document is not None:
            document = division.documents[entry.document]
            document.entry_id = document.entry_id or entry.id
        return entry_row(division, entry)

    def expand(self, call: Call, row: Row, navigation: str) -> list[Row]:
        entry = find_entry(call, row["EntryID"])
        return [line_row(call.div(), line) for line in entry.lines]


class PurchaseEntryLines(Resource):
    path = "purchaseentry/PurchaseEntryLines"
    type_name = LINE_TYPE
    properties = LINE_PROPERTIES

    def rows(self, call: Call) -> list[Row]:
        division = call.div()
        return [line_row(division, ln) for e in call.purchase_entries() for ln in e.lines]

    def row(self, call: Call, key: object) -> Row:
        for entry in call.purchase_entries():
            for line in entry.lines:
                if line.id == key:
                    return line_row(call.div(), line)
        raise not_found()


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
        document = booking.as_guid(body.get("Document"), "Document")
        if document not in division.documents:
            raise bad_request("Invalid reference: Document")
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


def entry_row(division: Division, entry: PurchaseEntry) -> Row:
    supplier = division.accounts.get(entry.supplier)
    journal = division.journals.get(entry.journal)
    return {
        "EntryID": entry.id,
        "AmountDC": entry.amount(),
        "AmountFC": entry.amount(),
        "Currency": entry.currency,
        "Description": entry.description,
        "Division": division.code,
        "Document": entry.document,
        "DueDate": entry.due_date,
        "EntryDate": entry.entry_date,
        "EntryNumber": entry.entry_number,
        "Journal": entry.journal,
        "JournalDescription": journal.description if journal else None,
        "PaymentReference": entry.payment_reference,
        "Rate": 1,
        "ReportingPeriod": entry.entry_date.month,
        "ReportingYear": entry.entry_date.year,
        "Reversal": False,
        "Status": 20,
        "StatusDescription": "Open",
        "Supplier": entry.supplier,
        "SupplierName": supplier.name if supplier else None,
        "Type": entry.type,
        "TypeDescription": ENTRY_TYPES[entry.type],
        "VATAmountDC": entry.vat_amount(),
        "VATAmountFC": entry.vat_amount(),
        "YourRef": entry.your_ref,
        "Created": entry.created,
        "Modified": entry.modified,
    }
