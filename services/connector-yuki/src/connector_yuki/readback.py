"""Reading back payments of what we booked in Yuki (open → paid).

One OutstandingDebtorItems call per administration and round lists every item with an
amount still open; a booked document found there is open. One that is not there was paid,
or Yuki has not listed it: it is looked up on its own (CheckOutstandingItemAdmin, settled
items included) before it is called paid, so only documents whose status changes cost a
call of their own. Results are emitted only on change; the last status seen is kept in
connector_remote_status.

Purchase documents uploaded into the archive are sent without a number: each round looks
a sent document up in the archive by our marker (the purchase folder's newest
documents, then SearchDocuments: purchases.py) and reports its booking once Yuki's
processing shows one (the archive document's Reference). An archive document has no
open item, so a booked purchase document is recorded as ``archived`` and left out of the
payment read. A lookup that fails is logged and tried again next round; it stops neither
the other documents nor the payment read (a refused key does: every call would meet it).
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connector_yuki.connector import YukiConnector
from connector_yuki.documents import OutstandingItem
from invoicesync_shared.bus.producer import Publisher
from invoicesync_shared.connectors.errors import AuthorizationLost, PermanentError, SyncError
from invoicesync_shared.connectors.readback import ReadBack
from invoicesync_shared.connectors.remote_status import (
    OPEN,
    PAID,
    Booked,
)
from invoicesync_shared.db.models import Integration
from invoicesync_shared.states import LedgerState

log = structlog.get_logger()
SYSTEM = "yuki"
LOCK_SPACE = 0x1E3A_0003  # advisory locks of this loop: (LOCK_SPACE, integration)
ARCHIVED = "archived"  # a purchase document booked from the archive: no open item to read


class YukiReadBack(ReadBack):
    system = SYSTEM
    lock_space = LOCK_SPACE
    watched_states = (LedgerState.BOOKED, LedgerState.SENT)

    def __init__(
        self,
        connector: YukiConnector,
        sessionmaker: async_sessionmaker[AsyncSession],
        publisher: Publisher,
        *,
        interval: float,
    ) -> None:
        super().__init__(sessionmaker, publisher, interval=interval)
        self._connector = connector

    async def refresh(self, integration: Integration) -> int:
        """Report the numbers of sent purchase documents Yuki has booked, and the payment
        status of every booked, not yet paid sales document that changed."""
        watched = await self.booked(integration)
        sent = [b for b in watched if b.state == LedgerState.SENT]
        numbered = await self._numbers(integration, sent)
        unpaid = [
            b
            for b in watched
            if b.state == LedgerState.BOOKED and b.last_status not in (PAID, ARCHIVED)
        ]
        if not unpaid:
            return numbered
        return numbered + await self._payments(integration, unpaid)

    async def _numbers(self, integration: Integration, sent: list[Booked]) -> int:
        numbered = 0
        for booked in sent:
            try:
                number = await self._connector.archived_number(integration, booked.document_id)
            except AuthorizationLost:
                raise
            except SyncError as exc:
                # The error's type and code only: its text may quote Yuki's answer.
                log.warning(
                    "yuki archive lookup failed; next round tries again",
                    integration_id=str(integration.id),
                    document_id=str(booked.document_id),
                    error=type(exc).__name__,
                    code=exc.code if isinstance(exc, PermanentError) else None,
                )
                continue
            if number:
                await self.report_booking(integration, booked, number)
                await self.report(integration, booked, ARCHIVED, None)
                numbered += 1
        return numbered

    async def _payments(self, integration: Integration, unpaid: list[Booked]) -> int:
        # By Yuki's document ID, or by our reference where Yuki answered without IDs.
        open_ids = {
            known.casefold()
            for item in await self._connector.open_items(integration)
            if item.open_amount != 0
            for known in (item.document_id, item.reference)
            if known
        }
        seen: list[tuple[Booked, str | None]] = []
        for booked in unpaid:
            if booked.remote_id.casefold() in open_ids:
                seen.append((booked, OPEN))
            else:
                item = await self._connector.booked_item(integration, booked.remote_id)
                seen.append((booked, _status(item)))
        return await self.report_payments(integration, seen)


def _status(item: OutstandingItem | None) -> str | None:
    """Paid once nothing is open; None when Yuki does not say (leave the status as it is)."""
    if item is None or item.open_amount is None:
        return None
    return PAID if item.open_amount == 0 else OPEN
