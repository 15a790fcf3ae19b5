"""A period's sales entries for a reconciliation, read the cheapest documented way.

``salesentry/SalesEntries`` filtered on our journals and the period, with ``$select`` of
the header fields only: 60 entries a call, each with its number, date, customer name,
``YourRef`` (our reference), ``Description`` (our marker), gross and VAT amounts.
``cashflow/Receivables`` of the same filter says which are paid (60 a call). With
``detailed``, ``salesentry/SalesEntryLines`` of those entries (20 entries a call, so the
filter stays under IIS's query limit) give the VAT per rate.

Not used: Exact's bulk endpoints (1,000 rows a page) for sales entries — whether one
exists for ``SalesEntries`` is not in our sources (docs/ACCOUNTING-APIS.md), and the sandbox
has none; a reconciliation of a month reads a few pages either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from connector_exact.client import ExactClient
from connector_exact.mapping import odata_date
from connector_exact.readback import IDS_PER_CALL, MATCHED, Book
from invoicesync_shared.connectors.ledger import Ledger
from invoicesync_shared.connectors.provenance import document_id_of, marker_in
from invoicesync_shared.connectors.reconciliation import Period
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.reconciliations import RemoteEntry
from invoicesync_shared.integration_settings import ExactSettings

ENTRY_FIELDS = (
    "EntryID,EntryNumber,EntryDate,Type,YourRef,Description,CustomerName,AmountDC,VATAmountDC"
)
CREDIT_NOTE = 21


async def read_entries(
    client: ExactClient,
    integration: Integration,
    settings: ExactSettings,
    period: Period,
    ledger: Ledger,
    *,
    detailed: bool = False,
) -> AsyncIterator[list[RemoteEntry]]:
    book = Book.of(integration)
    journals = " or ".join(f"Journal eq '{j}'" for j in book.journals)
    dated = (
        f"EntryDate ge datetime'{period.start.isoformat()}' and "
        f"EntryDate le datetime'{period.end.isoformat()}' and ({journals})"
    )
    rows: list[dict[str, Any]] = []
    async for page in client.pages(
        integration.id,
        settings.division,
        "salesentry/SalesEntries",
        {"$filter": dated, "$select": ENTRY_FIELDS},
    ):
        rows += page
    paid = await _paid(client, integration, settings.division, dated)
    rates = await _rates(client, integration, settings.division, rows) if detailed else {}
    known = await ledger.documents_of(integration.id, [str(r["EntryID"]) for r in rows])
    yield [_entry(r, paid, rates, known) for r in rows]


async def _paid(
    client: ExactClient, integration: Integration, division: int, dated: str
) -> dict[str, bool]:
    found: dict[str, bool] = {}
    async for page in client.pages(
        integration.id,
        division,
        "cashflow/Receivables",
        {"$filter": dated, "$select": "TransactionEntryID,Status,IsFullyPaid"},
    ):
        for row in page:
            paid = bool(row.get("IsFullyPaid")) or row.get("Status") == MATCHED
            found[str(row["TransactionEntryID"]).lower()] = paid
    return found


async def _rates(
    client: ExactClient, integration: Integration, division: int, rows: list[dict[str, Any]]
) -> dict[str, dict[str, Decimal]]:
    """VAT per rate of each entry, from its lines."""
    found: dict[str, dict[str, Decimal]] = {}
    ids = [str(r["EntryID"]) for r in rows]
    for start in range(0, len(ids), IDS_PER_CALL):
        chunk = " or ".join(f"EntryID eq guid'{i}'" for i in ids[start : start + IDS_PER_CALL])
        async for page in client.pages(
            integration.id,
            division,
            "salesentry/SalesEntryLines",
            {"$filter": chunk, "$select": "EntryID,VATPercentage,VATAmountDC"},
        ):
            for line in page:
                rates = found.setdefault(str(line["EntryID"]).lower(), {})
                rate = _rate(Decimal(str(line.get("VATPercentage") or 0)))
                rates[rate] = rates.get(rate, Decimal("0")) + Decimal(
                    str(line.get("VATAmountDC") or 0)
                )
    return found


def _rate(fraction: Decimal) -> str:
    """Exact's VATPercentage is a fraction (0.21); ours is percent ("21")."""
    percent = fraction * 100 if fraction < 1 else fraction
    return format(percent.normalize(), "f")


def _entry(
    row: dict[str, Any],
    paid: dict[str, bool],
    rates: dict[str, dict[str, Decimal]],
    known: dict[str, tuple[Any, str]],
) -> RemoteEntry:
    remote_id = str(row["EntryID"])
    gross = Decimal(str(row.get("AmountDC") or 0))
    vat = Decimal(str(row.get("VATAmountDC") or 0))
    ours = known.get(remote_id)
    mark = marker_in(row.get("Description"))
    by_rate = rates.get(remote_id.lower())
    # YourRef is a free field: a bookkeeper's entry may carry a customer's order number.
    their_ref = str(row.get("YourRef") or "").strip() or None
    return RemoteEntry(
        remote_id=remote_id,
        kind="credit_note" if row.get("Type") == CREDIT_NOTE else "invoice",
        number=str(row["EntryNumber"]) if row.get("EntryNumber") is not None else None,
        date=odata_date(row.get("EntryDate")),
        customer=row.get("CustomerName") or None,
        reference=ours[1] if ours else their_ref,
        free_reference=ours is None,
        document_id=ours[0] if ours else (document_id_of(mark) if mark else None),
        net=gross - vat,
        vat=by_rate,
        gross=gross,
        paid=paid.get(remote_id.lower()),
        status="open",
        detailed=by_rate is not None,
    )
