"""Watching drafts until Lexware gives them a number, then until they are paid.

A person finalises a draft in Lexware Office; its voucher number is our booking number.
One voucherlist page answers up to 250 vouchers, so a poll costs a call per page per
organisation, not a call per document.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any

import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connector_lexware import repository
from connector_lexware.client import LexwareClient
from connector_lexware.repository import Tracked
from invoicesync_shared.bus.producer import Publisher
from invoicesync_shared.connectors.errors import SyncError
from invoicesync_shared.connectors.ledger import Ledger
from invoicesync_shared.connectors.periodic import publish_result
from invoicesync_shared.connectors.remote_status import RemoteStatuses
from invoicesync_shared.events.results import BookingAssigned, PaymentStatusChanged, SyncResult
from invoicesync_shared.states import LedgerState

log = structlog.get_logger()

SYSTEM = "lexware"
# Drafts never show here; they are exactly the vouchers still waiting for a number.
LIST_PARAMS = {
    "voucherType": "invoice,creditnote",
    "voucherStatus": "open,overdue,paid,paidoff,voided",
}
LOCK_WAIT_SECONDS = 30.0  # longer than a round takes
PAYMENT_STATUS = {"open": "open", "overdue": "open", "paid": "paid", "paidoff": "paid"}
# What the poll costs in Lexware's budget (2 requests/s per organisation): the rounds'
# voucherlist pages, and those read at once for a callback or a refresh.
POLL_CALLS = Counter(
    "invoicesync_lexware_poll_calls_total",
    "voucherlist pages the poller read, by what asked",
    ["trigger"],
)


class VoucherPoller:
    def __init__(
        self,
        client: LexwareClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        publisher: Publisher,
        *,
        interval: float,
        max_pages: int = 8,
    ) -> None:
        self._client = client
        self._sessionmaker = sessionmaker
        self._publisher = publisher
        self._interval = interval
        self._max_pages = max_pages
        self._ledger = Ledger(sessionmaker, SYSTEM)
        self._statuses = RemoteStatuses(sessionmaker, SYSTEM)
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        while not self._stopped.is_set():
            try:
                await self.poll_once()
            except Exception:
                log.exception("lexware poll failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self._interval)

    def stop(self) -> None:
        self._stopped.set()

    async def poll_once(self) -> int:
        """One round over every watched voucher; returns how many results it emitted."""
        async with repository.poll_lock(self._sessionmaker) as acquired:
            if not acquired:
                return 0
            tracked = await repository.list_tracked(self._sessionmaker)
            return await self._poll(tracked, trigger="round")

    async def poll_integration_now(self, integration_id: uuid.UUID) -> int | None:
        """One integration at once (Lexware called back, or a user asked): waits for a
        round another replica is running, so a change it already passed is not missed.
        None if the lock stays taken."""
        async with repository.poll_lock(self._sessionmaker, wait=LOCK_WAIT_SECONDS) as acquired:
            if not acquired:
                return None
            tracked = await repository.list_tracked(self._sessionmaker, integration_id)
            return await self._poll(tracked, trigger="now")

    async def _poll(self, tracked: list[Tracked], *, trigger: str) -> int:
        """Only organisations with something watched (a draft without its number, a
        voucher not yet paid) are read: one with nothing open costs no call."""
        emitted = 0
        for (integration_id, scope), group in groupby(
            tracked, key=lambda t: (t.integration_id, t.scope)
        ):
            try:
                entries = list(group)
                emitted += await self._poll_integration(integration_id, scope, entries, trigger)
            except SyncError as exc:
                log.warning(
                    "lexware poll skipped", integration_id=str(integration_id), error=str(exc)
                )
        return emitted

    async def _poll_integration(
        self, integration_id: uuid.UUID, scope: str, entries: list[Tracked], trigger: str
    ) -> int:
        wanted = {t.remote_id: t for t in entries}
        # Only vouchers changed since the oldest watched one was sent (a day of margin for
        # time zones); Lexware filters server-side, pages stay few.
        since = (min(t.sent_at for t in entries) - timedelta(days=1)).date().isoformat()
        params = {**LIST_PARAMS, "updatedDateFrom": since}
        emitted = 0
        for remote_id, row in (
            await self._rows(integration_id, scope, params, set(wanted), trigger)
        ).items():
            emitted += await self._apply(wanted[remote_id], row)
        return emitted

    async def _rows(
        self,
        integration_id: uuid.UUID,
        scope: str,
        params: dict[str, str],
        wanted: set[str],
        trigger: str,
    ) -> dict[str, dict[str, Any]]:
        """Pages until every watched voucher is seen; drafts never are, so at most
        ``max_pages`` pages while some draft is still waiting."""
        found: dict[str, dict[str, Any]] = {}
        for number in range(self._max_pages):
            rows, last = await self._client.page(
                integration_id, scope, "v1/voucherlist", params, number
            )
            POLL_CALLS.labels(trigger).inc()
            found.update({str(r["id"]): r for r in rows if str(r.get("id")) in wanted})
            if last or len(found) == len(wanted):
                break
        return found

    async def _apply(self, tracked: Tracked, row: dict[str, Any]) -> int:
        """Emit first, record after: a crash in between repeats a result, never loses one."""
        emitted = 0
        number = row.get("voucherNumber")
        if tracked.state == LedgerState.SENT and number:
            await self._emit(tracked, _booking(tracked, str(number)))
            await self._ledger.record_number(
                tracked.integration_id, tracked.document_id, tracked.generation, str(number)
            )
            emitted += 1
        status = str(row.get("voucherStatus"))
        if status == tracked.last_status:
            return emitted
        payment = PAYMENT_STATUS.get(status)
        if payment is not None and payment != PAYMENT_STATUS.get(tracked.last_status or ""):
            await self._emit(tracked, PaymentStatusChanged(**_ids(tracked), payment_status=payment))
            emitted += 1
        key = (tracked.integration_id, tracked.document_id, tracked.generation)
        await self._statuses.save(key, status)
        return emitted

    async def _emit(self, tracked: Tracked, result: SyncResult) -> None:
        await publish_result(self._publisher, result, system="lexware", client_id=tracked.client_id)


def _ids(tracked: Tracked) -> dict[str, Any]:
    return {
        "document_id": tracked.document_id,
        "integration_id": tracked.integration_id,
        "generation": tracked.generation,
    }


def _booking(tracked: Tracked, number: str) -> BookingAssigned:
    return BookingAssigned(
        **_ids(tracked),
        booking_number=number,
        remote_id=tracked.remote_id,
        sent_at=tracked.sent_at.astimezone(UTC) if tracked.sent_at else datetime.now(UTC),
    )
