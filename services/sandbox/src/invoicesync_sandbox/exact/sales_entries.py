"""salesentry/SalesEntries and salesentry/SalesEntryLines: booked sales invoices and
credit notes. A PUT never replaces lines; lines are POSTed and DELETEd one at a time,
and deleting the last line deletes the entry (as ossobv/exactonline documents).
"""

from __future__ import annotations

import uuid

from invoicesync_sandbox.exact import booking
from invoicesync_sandbox.exact.errors import bad_request, not_found
from invoicesync_sandbox.exact.models import Division, SalesEntry, SalesEntryLine
from invoicesync_sandbox.exact.odata import Row
from invoicesync_sandbox.exact.resource import Body, Call, Resource

MODEL = "Exact.Web.Api.Models.SalesEntry"
ENTRY_PROPERTIES = frozenset(
    {"EntryID", "AmountDC", "AmountFC", "Currency", "Customer", "CustomerName", "Description",
     "Division", "DueDate", "EntryDate", "EntryNumber", "InvoiceNumber", "Journal",
     "JournalDescription", "PaymentReference", "Rate", "ReportingPeriod", "ReportingYear",
     "Reversal", "Status", "StatusDescription", "Type", "TypeDescription", "VATAmountDC",
     "VATAmountFC", "YourRef", "Created", "Modified"}
)  # fmt: skip
LINE_PROPERTIES = booking.LINE_PROPERTIES


def find_entry(call: Call, key: object) -> SalesEntry:
    entry = call.div().entries.get(key) if isinstance(key, uuid.UUID) else None
    if entry is None or not call.sees(entry):
        raise not_found()
    return entry


class SalesEntries(Resource):
    path = "salesentry/SalesEntries"
    type_name = MODEL
    key = "EntryID"
    properties = ENTRY_PROPERTIES
    navigations = ("SalesEntryLines",)

    def rows(self, call: Call) -> list[Row]:
        division = call.div()
        return [entry_row(division, e) for e in call.entries()]

    def row(self, call: Call, key: object) -> Row:
        return entry_row(call.div(), find_entry(call, key))

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
        return entry_row(division, entry)

    def update(self, call: Call, key: object, body: Body) -> None:
        self.check_body(body)
        division = call.div()
        entry = find_entry(call, key)
        customer = booking.find_customer(division, body["Customer"]) if "Customer" in body else None
        entry_date = booking.entry_date_of(body)
        booking.apply_header(entry, body)  # SalesEntryLines in a PUT are ignored, as on Exact
        if customer is not None:  # set only once the header passed its checks
            entry.customer = customer.id
        entry.entry_date = entry_date or entry.entry_date
        entry.modified = call.now

    def delete(self, call: Call, key: object) -> None:
        division = call.div()
        del division.entries[find_entry(call, key).id]

    def expand(self, call: Call, row: Row, navigation: str) -> list[Row]:
        entry = find_entry(call, row["EntryID"])
        return [line_row(call.div(), line) for line in entry.lines]


class SalesEntryLines(Resource):
    path = "salesentry/SalesEntryLines"
    type_name = "Exact.Web.Api.Models.SalesEntryLine"
    properties = LINE_PROPERTIES

    def rows(self, call: Call) -> list[Row]:
        division = call.div()
        return [line_row(division, ln) for e in call.entries() for ln in e.lines]

    def row(self, call: Call, key: object) -> Row:
        return line_row(call.div(), _find_line(call, key)[1])

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
        entry, line = _find_line(call, key)
        entry.lines.remove(line)
        entry.modified = call.now
        if not entry.lines:
            del division.entries[entry.id]


def _find_line(call: Call, key: object) -> tuple[SalesEntry, SalesEntryLine]:
    for entry in call.entries():
        for line in entry.lines:
            if line.id == key:
                return entry, line
    raise not_found()


def _check_line_body(body: Body, allow_entry_id: bool) -> None:
    booking.check_line_body(body, "Exact.Web.Api.Models.SalesEntryLine", allow_entry_id)


def entry_row(division: Division, entry: SalesEntry) -> Row:
    customer = division.accounts.get(entry.customer)
    journal = division.journals.get(entry.journal)
    return {
        "EntryID": entry.id,
        "AmountDC": entry.amount(),
        "AmountFC": entry.amount(),
        "Currency": entry.currency,
        "Customer": entry.customer,
        "CustomerName": customer.name if customer else None,
        "Description": entry.description,
        "Division": division.code,
        "DueDate": entry.due_date,
        "EntryDate": entry.entry_date,
        "EntryNumber": entry.entry_number,
        "InvoiceNumber": entry.entry_number,
        "Journal": entry.journal,
        "JournalDescription": journal.description if journal else None,
        "PaymentReference": entry.payment_reference,
        "Rate": 1,
        "ReportingPeriod": entry.entry_date.month,
        "ReportingYear": entry.entry_date.year,
        "Reversal": False,
        "Status": 20,
        "StatusDescription": "Open",
        "Type": entry.type,
        "TypeDescription": booking.ENTRY_TYPES[entry.type],
        "VATAmountDC": entry.vat_amount(),
        "VATAmountFC": entry.vat_amount(),
        "YourRef": entry.your_ref,
        "Created": entry.created,
        "Modified": entry.modified,
    }


def line_row(division: Division, line: SalesEntryLine) -> Row:
    gl = division.gl_accounts.get(line.gl_account)
    vat = division.vat_codes.get(line.vat_code or "")
    row: Row = {name: None for name in booking.LINE_EXTRA}
    row.update(line.extra)
    row.update(
        {
            "ID": line.id,
            "AmountDC": line.amount_fc,
            "AmountFC": line.amount_fc,
            "Description": line.description,
            "Division": division.code,
            "EntryID": line.entry_id,
            "GLAccount": line.gl_account,
            "GLAccountCode": gl.code if gl else None,
            "GLAccountDescription": gl.description if gl else None,
            "LineNumber": line.line_number,
            "VATAmountDC": line.vat_amount_fc,
            "VATAmountFC": line.vat_amount_fc,
            "VATBaseAmountDC": line.amount_fc,
            "VATBaseAmountFC": line.amount_fc,
            "VATCode": line.vat_code,
            "VATCodeDescription": vat.description if vat else None,
            "VATPercentage": line.vat_percentage,
        }
    )
    return row
