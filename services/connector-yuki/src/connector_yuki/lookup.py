"""Identifiers of many booked invoices in one read.

Stock Yuki answers an import without a document ID per invoice, so the connector reads
them back by our Reference. Lookups for one administration that arrive within a short
window (the pushes of one ProcessSalesInvoices call resume together; so do the lookups
after a lost answer) share one ``OutstandingDebtorItemsByDate`` call over their dates.
Each document takes only an item carrying its own Reference that is provably its own by
the shared adoption rule (our marker, date, total), never one matched by amount or date
alone. Whatever the list cannot prove — not listed (settled, outside the range, not
visible yet), a look-alike, the call failing — answers None, and the caller looks that
document up on its own (``CheckOutstandingItemAdmin``).

What a bookkeeper finds the invoice by in Yuki is its invoice number, which is our
Reference (Yuki's item lists it as ``Reference``; CheckOutstandingItem takes it as the
"Invoice Number"). Stock Yuki publishes no other booking number: the item's ``ID`` and
``DocumentID`` are GUIDs. So the booking is the DocumentID with the invoice number as
Yuki holds it on the item: a number read from Yuki's own item, so present only once Yuki
has booked the document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import structlog
from prometheus_client import Counter

from connector_yuki.batching import BatchKey
from connector_yuki.documents import OutstandingItem
from connector_yuki.sessions import SessionPool
from connector_yuki.soap import YukiSoap
from invoicesync_shared.connectors.adoption import Candidate, System, adopt
from invoicesync_shared.connectors.batching import MicroBatcher
from invoicesync_shared.connectors.errors import AmbiguousMatch, SyncError
from invoicesync_shared.connectors.protocol import Booking
from invoicesync_shared.connectors.provenance import marker_in
from invoicesync_shared.events.documents import DocumentSnapshot

log = structlog.get_logger()
YUKI = System("Yuki", "subject")
LOOKUPS = Counter(
    "invoicesync_yuki_lookups",
    "Documents whose identifiers were looked for in a shared open-items read, by outcome",
    ["outcome"],
)


@dataclass(frozen=True)
class Wanted:
    reference: str
    document: DocumentSnapshot


class BatchLookup:
    """One open-items read per administration for the lookups of a short window."""

    def __init__(
        self, soap: YukiSoap, sessions: SessionPool, *, window: float, max_size: int
    ) -> None:
        self._soap = soap
        self._sessions = sessions
        self._batcher: MicroBatcher[BatchKey, Wanted, Booking | None] = MicroBatcher(
            self._read, window=window, max_size=max_size
        )

    async def find(
        self, key: BatchKey, reference: str, document: DocumentSnapshot
    ) -> Booking | None:
        """The booked item provably this document's, or None: look it up on its own."""
        return await self._batcher.submit(key, Wanted(reference, document))

    async def _read(self, key: BatchKey, wanted: Sequence[Wanted]) -> list[Booking | None]:
        start = min(w.document.issue_date for w in wanted)
        end = max(w.document.issue_date for w in wanted)
        try:
            items = await self._sessions.call(
                key.access_key,
                lambda session: self._soap.outstanding_debtor_items_by_date(
                    session, key.administration_id, start, end
                ),
            )
        except SyncError as exc:  # each document is looked up on its own instead
            log.warning("yuki open items read failed", size=len(wanted), error=str(exc))
            LOOKUPS.labels("read_failed").inc(len(wanted))
            return [None] * len(wanted)
        by_reference: dict[str, list[OutstandingItem]] = {}
        for item in items:
            by_reference.setdefault(item.reference.casefold(), []).append(item)
        found = [_provably_ours(by_reference.get(w.reference.casefold(), []), w) for w in wanted]
        LOOKUPS.labels("found").inc(sum(f is not None for f in found))
        LOOKUPS.labels("not_found").inc(sum(f is None for f in found))
        return found


def candidates(
    items: Sequence[OutstandingItem], reference: str, document: DocumentSnapshot
) -> list[Candidate]:
    """The items carrying ``reference`` (Yuki compares it ignoring case), as the adoption
    rule reads them; the booking number is the invoice number Yuki holds."""
    sign = Decimal(-1) if document.kind == "credit_note" else Decimal(1)
    return [
        Candidate(
            remote_id=item.document_id,
            booking_number=item.reference,
            label=f"invoice {item.reference} (document {item.document_id})",
            marker=marker_in(item.description),
            date=item.day,
            total=None if item.original_amount is None else item.original_amount * sign,
            customer=None,  # Yuki matches contacts itself: we hold no contact ID
        )
        for item in items
        if item.reference.casefold() == reference.casefold() and item.document_id
    ]


def _provably_ours(items: Sequence[OutstandingItem], wanted: Wanted) -> Booking | None:
    """Only an item the adoption rule adopts; a doubt is the single lookup's to settle."""
    try:
        return adopt(
            candidates(items, wanted.reference, wanted.document),
            wanted.document,
            system=YUKI,
            customer=None,
        )
    except AmbiguousMatch:
        return None
