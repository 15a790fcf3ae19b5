"""salesentry/SalesEntries and salesentry/SalesEntryLines: booked sales invoices and
credit notes. A PUT never replaces lines; lines are POSTed and DELETEd one at a time,
and deleting the last line deletes the entry (as ossobv/exactonline documents).
"""

from __future__ import annotations

from invoicesync_sandbox.exact import booking
from invoicesync_sandbox.exact.entries import (
    EntryKind,
    EntryLineResource,
    EntryResource,
    find_line,
    line_row,
)
from invoicesync_sandbox.exact.errors import bad_request
from invoicesync_sandbox.exact.models import SalesEntry
from invoicesync_sandbox.exact.odata import Row
from invoicesync_sandbox.exact.resource import Body, Call

MODEL = "Exact.Web.Api.Models.SalesEntry"
ENTRY_PROPERTIES = frozenset(
    {"EntryID", "AmountDC", "AmountFC", "Currency", "Customer", "CustomerName", "Description",
     "Division", "DueDate", "EntryDate", "EntryNumber", "InvoiceNumber", "Journal",
     "JournalDescription", "PaymentReference", "Rate", "ReportingPeriod", "ReportingYear",
     "Reversal", "Status", "StatusDescription", "Type", "TypeDescription", "VATAmountDC",
     "VATAmountFC", "YourRef", "Created", "Modified"}
)  # fmt: skip


SALES: EntryKind[SalesEntry] = EntryKind(
    store=lambda division: division.entries,
    party="Customer",
    party_of=lambda entry: entry.customer,
    type_descriptions=booking.ENTRY_TYPES,
    own_columns=lambda entry: {"InvoiceNumber": entry.entry_number},
)


class SalesEntries(EntryResource):
    path = "salesentry/SalesEntries"
    type_name = MODEL
    kind = SALES
    properties = ENTRY_PROPERTIES
    navigations = ("SalesEntryLines",)

    def create(self, call: Call, body: Body) -> Row:
        self.check_body(body)
        division = call.div()
        entry = booking.build_entry(division, body, call.now)
        for line_body in booking.lines_of(body):
            _check_line_body(line_body, allow_entry_id=False)
            entry.lines.append(booking.build_line(division, entry, line_body))
        entry.receivable_hid = division.next_hid
        division.next_hid += 1
        division.entries[entry.id] = entry
        division.remember(entry.id)
        for line in entry.lines:
            division.remember(line.id)
        return SALES.row(division, entry)

    def update(self, call: Call, key: object, body: Body) -> None:
        self.check_body(body)
        division = call.div()
        entry = SALES.find(call, key)
        customer = booking.find_customer(division, body["Customer"]) if "Customer" in body else None
        entry_date = booking.entry_date_of(body)
        booking.apply_header(entry, body)  # SalesEntryLines in a PUT are ignored, as on Exact
        if customer is not None:  # set only once the header passed its checks
            entry.customer = customer.id
        entry.entry_date = entry_date or entry.entry_date
        entry.modified = call.now

    def delete(self, call: Call, key: object) -> None:
        division = call.div()
        del division.entries[SALES.find(call, key).id]


class SalesEntryLines(EntryLineResource):
    path = "salesentry/SalesEntryLines"
    type_name = "Exact.Web.Api.Models.SalesEntryLine"
    kind = SALES

    def create(self, call: Call, body: Body) -> Row:
        self.check_body(body)
        _check_line_body(body, allow_entry_id=True)
        division = call.div()
        entry = division.entries.get(booking.as_guid(body.get("EntryID"), "EntryID"))
        if entry is None or not call.sees(entry):
            raise bad_request("Invalid reference: EntryID")
        line = booking.build_line(division, entry, body)
        entry.lines.append(line)
        entry.modified = call.now
        division.remember(line.id)
        return line_row(division, line)

    def delete(self, call: Call, key: object) -> None:
        division = call.div()
        entry, line = find_line(SALES, call, key)
        entry.lines.remove(line)
        entry.modified = call.now
        if not entry.lines:
            del division.entries[entry.id]


def _check_line_body(body: Body, allow_entry_id: bool) -> None:
    booking.check_line_body(body, "Exact.Web.Api.Models.SalesEntryLine", allow_entry_id)
