"""A period's sales items for a reconciliation, from Yuki's documented item queries.

Yuki's web services have no call that lists a period's sales invoices (the reporting
calls' answers are not in our sources). What they have: ``OutstandingDebtorItems``, every
item still open in one call, and ``CheckOutstandingItemAdmin``, one booked item by
reference or ID, settled ones included. So: one call for the open items of the period;
then one call for each document we booked or sent since a year before the period that
was not among them (paid, or gone — then it is missing). Items typed by hand are seen
only while they are open; Yuki gives no net or VAT per rate here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from connector_yuki import documents
from invoicesync_shared.connectors.ledger import Ledger
from invoicesync_shared.connectors.provenance import document_id_of, marker_in
from invoicesync_shared.connectors.reconciliation import Period
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.reconciliations import RemoteEntry

# A document may be sent up to a year before its date (documents are taken up to 366
# days ahead), never after the period it is dated in is the only bound: look that far.
SENT_BEFORE = timedelta(days=367)


async def read_entries(
    connector: Any, integration: Integration, period: Period, ledger: Ledger
) -> AsyncIterator[list[RemoteEntry]]:
    """``connector`` is the ``YukiConnector`` (its session pool and SOAP client)."""
    since = datetime.combine(period.start, time(), tzinfo=UTC) - SENT_BEFORE
    known = await ledger.sent_since(integration.id, since)
    found: dict[str, documents.OutstandingItem] = {}
    for item in await connector.open_items(integration):
        found[_key(item)] = item
    seen = {k.casefold() for item in found.values() for k in (item.document_id, item.reference)}
    for remote_id in known:
        if remote_id.casefold() not in seen:
            item = await connector.booked_item(integration, remote_id)
            if item is not None:
                found[_key(item)] = item
    ours = {r.casefold(): v for r, v in known.items()}
    yield [
        _entry(item, ours)
        for item in found.values()
        if item.day is not None and period.holds(item.day)
    ]


def _key(item: documents.OutstandingItem) -> str:
    return (item.document_id or item.reference).casefold()


def _entry(item: documents.OutstandingItem, ours: dict[str, tuple[Any, str]]) -> RemoteEntry:
    mine = ours.get(item.document_id.casefold()) or ours.get(item.reference.casefold())
    mark = marker_in(item.description)
    gross = item.original_amount or Decimal("0")
    return RemoteEntry(
        remote_id=item.document_id or item.reference,
        kind="credit_note" if gross < 0 else "invoice",
        number=item.booking_number or None,
        date=item.day,
        customer=item.contact or None,
        # Yuki's Reference is its own number on an invoice typed there: a free field.
        reference=mine[1] if mine else (item.reference or None),
        free_reference=mine is None,
        document_id=mine[0] if mine else (document_id_of(mark) if mark else None),
        gross=gross,
        paid=None if item.open_amount is None else item.open_amount == 0,
        status="booked",
    )
