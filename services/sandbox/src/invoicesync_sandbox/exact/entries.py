"""What sales and purchase entries share: the entry a read may see, its row, and the read
side of both entity sets (list, one by key, its lines). A kind says where its entries live,
who the other party is and which columns only it has; ``sales_entries.py`` and
``purchase_entries.py`` add the writes each supports.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from invoicesync_sandbox.exact import booking
from invoicesync_sandbox.exact.errors import not_found
from invoicesync_sandbox.exact.models import Division, PurchaseEntry, SalesEntry, SalesEntryLine
from invoicesync_sandbox.exact.odata import Row
from invoicesync_sandbox.exact.resource import Call, Resource

E = TypeVar("E", SalesEntry, PurchaseEntry)
LAST_COLUMNS = ("Created", "Modified")


@dataclass(frozen=True)
class EntryKind(Generic[E]):
    """Sales or purchase: the same entry shape with another party and a few own columns."""

    store: Callable[[Division], dict[uuid.UUID, E]]
    party: str  # the account column: Customer or Supplier (and its ...Name)
    party_of: Callable[[E], uuid.UUID]
    type_descriptions: Mapping[int, str]
    own_columns: Callable[[E], Row]

    def visible(self, call: Call) -> list[E]:
        """The division's entries this read may see: a late-visible write is not yet."""
        return [e for e in self.store(call.div()).values() if call.sees(e)]

    def find(self, call: Call, key: object) -> E:
        entry = self.store(call.div()).get(key) if isinstance(key, uuid.UUID) else None
        if entry is None or not call.sees(entry):
            raise not_found()
        return entry

    def row(self, division: Division, entry: E) -> Row:
        party = division.accounts.get(self.party_of(entry))
        journal = division.journals.get(entry.journal)
        row: Row = {
            "EntryID": entry.id,
            "AmountDC": entry.amount(),
            "AmountFC": entry.amount(),
            "Currency": entry.currency,
            self.party: self.party_of(entry),
            f"{self.party}Name": party.name if party else None,
            "Description": entry.description,
            "Division": division.code,
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
            "Type": entry.type,
            "TypeDescription": self.type_descriptions[entry.type],
            "VATAmountDC": entry.vat_amount(),
            "VATAmountFC": entry.vat_amount(),
            "YourRef": entry.your_ref,
            **self.own_columns(entry),
            "Created": entry.created,
            "Modified": entry.modified,
        }
        return _in_exacts_order(row)


def _in_exacts_order(row: Row) -> Row:
    """The key first, the audit times last, the rest by name, as Exact lists them."""
    middle = sorted(name for name in row if name != "EntryID" and name not in LAST_COLUMNS)
    return {name: row[name] for name in ("EntryID", *middle, *LAST_COLUMNS)}


class EntryResource(Resource):
    """An entry entity set's reads; its lines are its one navigation."""

    kind: ClassVar[EntryKind[Any]]
    key = "EntryID"

    def rows(self, call: Call) -> list[Row]:
        division = call.div()
        return [self.kind.row(division, e) for e in self.kind.visible(call)]

    def row(self, call: Call, key: object) -> Row:
        return self.kind.row(call.div(), self.kind.find(call, key))

    def expand(self, call: Call, row: Row, navigation: str) -> list[Row]:
        entry = self.kind.find(call, row["EntryID"])
        return [line_row(call.div(), line) for line in entry.lines]


class EntryLineResource(Resource):
    """An entry lines entity set's reads."""

    kind: ClassVar[EntryKind[Any]]
    properties = booking.LINE_PROPERTIES

    def rows(self, call: Call) -> list[Row]:
        division = call.div()
        return [line_row(division, ln) for e in self.kind.visible(call) for ln in e.lines]

    def row(self, call: Call, key: object) -> Row:
        return line_row(call.div(), find_line(self.kind, call, key)[1])


def find_line(kind: EntryKind[E], call: Call, key: object) -> tuple[E, SalesEntryLine]:
    for entry in kind.visible(call):
        for line in entry.lines:
            if line.id == key:
                return entry, line
    raise not_found()


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
