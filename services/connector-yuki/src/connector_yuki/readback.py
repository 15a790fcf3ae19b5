"""Reading back payments of what we booked in Yuki (open → paid).

One OutstandingDebtorItems call per administration and round lists every item with an
amount still open; a booked document found there is open. One that is not there was paid,
or Yuki has not listed it: it is looked up on its own (CheckOutstandingItemAdmin, settled
items included) before it is called paid, so only documents whose status changes cost a
call of their own. Results are emitted only on change; the last status seen is kept in
connector_remote_status.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connector_yuki.connector import YukiConnector
from connector_yuki.documents import OutstandingItem
from invoicesync_shared.bus.producer import Publisher
from invoicesync_shared.connectors.readback import ReadBack
from invoicesync_shared.connectors.remote_status import (
    OPEN,
    PAID,
    Booked,
)
from invoicesync_shared.db.models import Integration

SYSTEM = "yuki"
LOCK_SPACE = 0x1E3A_0003  # advisory locks of this loop: (LOCK_SPACE, integration)


class YukiReadBack(ReadBack):
    system = SYSTEM
    lock_space = LOCK_SPACE

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
        """Report the payment status of every booked, not yet paid document that changed."""
        unpaid = [b for b in await self.booked(integration) if b.last_status != PAID]
        if not unpaid:
            return 0
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
