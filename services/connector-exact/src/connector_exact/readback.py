"""Reading back what happens in Exact to entries we booked: deletions (the entry is gone,
so Exact will hand its number out again) and payments (open → paid).

Both read a whole collection per division page by page — SalesEntries (and
PurchaseEntries of the purchase journal, where purchase documents are booked) and
cashflow/Receivables (and cashflow/Payments, what is owed to suppliers, while one of our
purchase entries is unpaid), filtered on our journals and the integration's start date —
so a round costs about one call per 60 entries, not one per document. Results are emitted
only on change; the last status seen is kept in connector_remote_status.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connector_exact.client import ExactClient
from connector_exact.mapping import odata_string
from invoicesync_shared import clock
from invoicesync_shared.bus.producer import Publisher
from invoicesync_shared.connectors.readback import ReadBack
from invoicesync_shared.connectors.remote_status import (
    OPEN,
    PAID,
    Booked,
)
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.audit import RemoteEntryMissing
from invoicesync_shared.integration_settings import ExactSettings

log = structlog.get_logger()

SYSTEM = "exact"
MISSING = "missing"  # the audit's verdict, stored beside the payment statuses
LOCK_SPACE = 0x1E3A_0002  # advisory locks of this loop: (LOCK_SPACE, integration)
MATCHED = 50  # cashflow/Receivables and Payments: Status once the entry is settled
# GUIDs per "EntryID eq guid'…' or …" filter: keeps the URL under IIS's 2 KB query limit.
IDS_PER_CALL = 20
SALES, PURCHASES = "salesentry/SalesEntries", "purchaseentry/PurchaseEntries"
RECEIVABLES, PAYMENTS = "cashflow/Receivables", "cashflow/Payments"


@dataclass(frozen=True)
class Book:
    """Where an integration's entries live in Exact and from which date they count."""

    division: int
    journals: tuple[str, ...]
    start_date: date | None
    purchase_journal: str = "60"

    @classmethod
    def of(cls, integration: Integration) -> Book:
        settings = ExactSettings.stored(integration.settings)
        journals = {settings.sales_journal, settings.credit_note_journal}
        return cls(
            settings.division,
            tuple(sorted(journals)),
            settings.start_date,
            settings.purchase_journal,
        )

    def entries_filter(self, date_field: str, journals: Sequence[str] | None = None) -> str:
        """Our journals (the sales ones unless told), from the start date on (Exact's
        entry date is our issue date)."""
        journals = " or ".join(
            f"Journal eq {odata_string(j)}"
            for j in (self.journals if journals is None else journals)
        )
        if self.start_date is None:
            return f"({journals})"
        return f"{date_field} ge datetime'{self.start_date.isoformat()}' and ({journals})"


class ExactReadBack(ReadBack):
    system = SYSTEM
    lock_space = LOCK_SPACE

    def __init__(
        self,
        client: ExactClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        publisher: Publisher,
        *,
        interval: float,
    ) -> None:
        super().__init__(sessionmaker, publisher, interval=interval)
        self._client = client

    async def refresh(self, integration: Integration) -> int:
        """Audit the integration's booked entries, then read their payment status."""
        watched = [b for b in await self.booked(integration) if b.last_status != MISSING]
        if not watched:
            return 0
        book = Book.of(integration)
        missing, purchases = await self.find_missing(integration, book, watched)
        for booked in missing:
            await self.report(integration, booked, MISSING, _missing(integration, booked))
        gone = {b.document_id for b in missing}
        unpaid = [b for b in watched if b.document_id not in gone and b.last_status != PAID]
        return len(missing) + await self._read_payments(integration, book, unpaid, purchases)

    async def find_missing(
        self, integration: Integration, book: Book, watched: Sequence[Booked]
    ) -> tuple[list[Booked], set[str]]:
        """Booked entries that no longer exist: one paged read of our journals, then a
        look by ID at the few not seen there (an entry dated before the start date, or
        booked while we paged, is not missing). Also the IDs of the purchase entries seen,
        whose payments are read apart."""
        existing: dict[str, set[str]] = {}
        for collection, journals in (
            (SALES, book.journals),
            (PURCHASES, (book.purchase_journal,)),
        ):
            existing[collection] = await self._entry_ids(
                integration,
                book,
                collection,
                {
                    "$filter": book.entries_filter("EntryDate", journals),
                    "$select": "EntryID,EntryNumber",
                },
            )
        seen = existing[SALES] | existing[PURCHASES]
        unseen = [b for b in watched if b.remote_id.lower() not in seen]
        for collection in (SALES, PURCHASES):
            found: set[str] = set()
            for chunk in _chunks(unseen, IDS_PER_CALL):
                ids = " or ".join(f"EntryID eq guid'{b.remote_id}'" for b in chunk)
                found |= await self._entry_ids(
                    integration, book, collection, {"$filter": ids, "$select": "EntryID"}
                )
            existing[collection] |= found
            unseen = [b for b in unseen if b.remote_id.lower() not in found]
        return unseen, existing[PURCHASES]

    async def _entry_ids(
        self, integration: Integration, book: Book, collection: str, params: dict[str, str]
    ) -> set[str]:
        ids: set[str] = set()
        async for rows in self._client.pages(integration.id, book.division, collection, params):
            ids |= {str(r["EntryID"]).lower() for r in rows}
        return ids

    async def _read_payments(
        self,
        integration: Integration,
        book: Book,
        unpaid: Sequence[Booked],
        purchases: set[str],
    ) -> int:
        """Open/paid per entry from cashflow/Receivables (one row per sales entry), and
        cashflow/Payments (one per purchase entry) when a purchase entry is unpaid; the
        date filter leaves out documents dated before the start date."""
        if not unpaid:
            return 0
        statuses = await self._cashflow(
            integration,
            book,
            RECEIVABLES,
            {
                "$filter": book.entries_filter("EntryDate"),
                "$select": "TransactionEntryID,Status,IsFullyPaid",
            },
        )
        if any(b.remote_id.lower() in purchases for b in unpaid):
            # What is owed to suppliers: read only for unpaid purchase entries, so an
            # integration without them pays no call.
            statuses |= await self._cashflow(
                integration,
                book,
                PAYMENTS,
                {
                    "$filter": book.entries_filter("EntryDate", (book.purchase_journal,)),
                    "$select": "TransactionEntryID,Status",
                },
            )
        seen = [(b, statuses.get(b.remote_id.lower())) for b in unpaid]
        return await self.report_payments(integration, seen)

    async def _cashflow(
        self, integration: Integration, book: Book, collection: str, params: dict[str, str]
    ) -> dict[str, str]:
        """Open/paid per entry ID from a cashflow collection (one row per entry)."""
        statuses: dict[str, str] = {}
        async for rows in self._client.pages(integration.id, book.division, collection, params):
            statuses.update({str(r["TransactionEntryID"]).lower(): _payment(r) for r in rows})
        return statuses


def _payment(row: dict[str, Any]) -> str:
    """A payment row has no ``IsFullyPaid``: ``Status`` 50 (matched) alone says settled."""
    return PAID if row.get("IsFullyPaid") or row.get("Status") == MATCHED else OPEN


def _missing(integration: Integration, booked: Booked) -> RemoteEntryMissing:
    return RemoteEntryMissing(
        **booked.ids(integration),
        remote_id=booked.remote_id,
        booking_number=booked.booking_number,
        checked_at=clock.now(),
    )


def _chunks(items: Sequence[Booked], size: int) -> Iterable[Sequence[Booked]]:
    return (items[i : i + size] for i in range(0, len(items), size))
