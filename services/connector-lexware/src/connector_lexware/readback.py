"""Watching drafts until Lexware gives them a number, then until they are paid.

A person finalises a draft in Lexware Office; its voucher number is our booking number.
One voucherlist page answers up to 250 vouchers, so a read-back costs a call per page per
organisation, not a call per document; an organisation with nothing open costs none.
Lexware calls back when a voucher changes (``refresh_now``); the rounds are the safety net.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connector_lexware.client import LexwareClient
from connector_lexware.mapping import LIST_TYPES, NUMBERED_STATUSES, scope_of
from connector_lexware.purchases import LIST_TYPES as PURCHASE_LIST_TYPES
from invoicesync_shared.bus.producer import Publisher
from invoicesync_shared.connectors.readback import ReadBack
from invoicesync_shared.connectors.remote_status import Booked
from invoicesync_shared.db.models import Integration
from invoicesync_shared.integration_settings import LexwareSettings
from invoicesync_shared.states import LedgerState

SYSTEM = "lexware"
LOCK_SPACE = 0x1E3A_0001  # advisory locks of this loop: (LOCK_SPACE, integration)
# Drafts never show here; they are exactly the vouchers still waiting for a number.
# Purchase vouchers are booked with their number; they are watched for payments.
LIST_PARAMS = {
    "voucherType": f"{LIST_TYPES},{PURCHASE_LIST_TYPES}",
    "voucherStatus": NUMBERED_STATUSES,
}
# Remote statuses after which nothing changes any more that we report.
SETTLED = ("paid", "paidoff", "voided")
PAYMENT_STATUS = {"open": "open", "overdue": "open", "paid": "paid", "paidoff": "paid"}
# What the read-back costs in Lexware's budget (2 requests/s per organisation): the
# rounds' voucherlist pages, and those read at once for a callback or a refresh.
POLL_CALLS = Counter(
    "invoicesync_lexware_poll_calls_total",
    "voucherlist pages the poller read, by what asked",
    ["trigger"],
)
_TRIGGER: ContextVar[str] = ContextVar("lexware_poll_trigger", default="round")


class LexwareReadBack(ReadBack):
    system = SYSTEM
    lock_space = LOCK_SPACE
    watched_states = (LedgerState.SENT, LedgerState.BOOKED)
    # A callback waits for a round another replica is running on the organisation, so a
    # change that round already passed is read again, not missed.
    refresh_wait = 30.0

    def __init__(
        self,
        client: LexwareClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        publisher: Publisher,
        *,
        interval: float,
        max_pages: int = 8,
    ) -> None:
        super().__init__(sessionmaker, publisher, interval=interval)
        self._client = client
        self._max_pages = max_pages

    async def refresh_now(self, integration_id: uuid.UUID) -> int | None:
        """As ``ReadBack.refresh_now``; its pages count as read at once (trigger "now")."""
        trigger = _TRIGGER.set("now")
        try:
            return await super().refresh_now(integration_id)
        finally:
            _TRIGGER.reset(trigger)

    async def refresh(self, integration: Integration) -> int:
        """Report numbers of finalised drafts, then payment statuses that changed."""
        watched = [b for b in await self.booked(integration) if b.last_status not in SETTLED]
        if not watched:
            return 0
        rows = await self._rows(integration, watched)
        emitted = 0
        for booked in watched:
            number = rows.get(booked.remote_id, {}).get("voucherNumber")
            if booked.state == LedgerState.SENT and number:
                await self.report_booking(integration, booked, str(number))
                emitted += 1
        seen = [(b, _status(rows[b.remote_id])) for b in watched if b.remote_id in rows]
        return emitted + await self.report_payments(integration, seen, _payment)

    async def _rows(self, integration: Integration, watched: list[Booked]) -> dict[str, Any]:
        """The voucherlist rows of ``watched``: pages until every one is seen; drafts never
        are, so at most ``max_pages`` pages while some draft is still waiting. Only vouchers
        changed since the oldest watched one was sent (a day of margin for time zones):
        Lexware filters server-side, pages stay few."""
        wanted = {b.remote_id for b in watched}
        since = (min(b.sent_at for b in watched) - timedelta(days=1)).date().isoformat()
        params = {**LIST_PARAMS, "updatedDateFrom": since}
        scope = scope_of(integration.id, LexwareSettings.stored(integration.settings))
        found: dict[str, Any] = {}
        for number in range(self._max_pages):
            rows, last = await self._client.page(
                integration.id, scope, "v1/voucherlist", params, number
            )
            POLL_CALLS.labels(_TRIGGER.get()).inc()
            found.update({str(r["id"]): r for r in rows if str(r.get("id")) in wanted})
            if last or len(found) == len(wanted):
                break
        return found


def _status(row: dict[str, Any]) -> str:
    return str(row.get("voucherStatus"))


def _payment(status: str | None) -> str | None:
    return PAYMENT_STATUS.get(status or "")
