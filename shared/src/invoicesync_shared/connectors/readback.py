"""What every read-back of booked documents shares (payments, audits of entries): a loop
over the system's active integrations, the booked documents with the last status seen,
and reporting a change once: emitted first, recorded after, so a crash in between repeats
a result and never loses one.

A connector subclasses ``ReadBack`` with its ``refresh(integration)``, which reads the
system and reports what it found through ``report_booking`` and ``report_payments``; this
class writes what is recorded (the ledger's number, the last status seen). The service runs
``run()``/``stop()``, the control port's POST /integrations/{id}/refresh calls
``refresh_now(id)``.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from datetime import UTC
from typing import ClassVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.bus.producer import Publisher
from invoicesync_shared.connectors.connection import report_connection_lost
from invoicesync_shared.connectors.errors import AuthorizationLost
from invoicesync_shared.connectors.ledger import Ledger
from invoicesync_shared.connectors.periodic import IntegrationLoop, publish_result
from invoicesync_shared.connectors.remote_status import (
    Booked,
    RemoteStatuses,
    key_of,
    list_booked,
)
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.results import BookingAssigned, PaymentStatusChanged, SyncResult
from invoicesync_shared.states import LedgerState

log = structlog.get_logger()


class ReadBack(ABC):
    system: ClassVar[str]
    lock_space: ClassVar[int]  # advisory locks of this loop: (lock_space, integration)
    # The ledger states read back: booked entries, and where the system numbers a sent
    # draft itself later, sent ones too (``report_booking`` brings their number).
    watched_states: ClassVar[tuple[str, ...]] = (LedgerState.BOOKED,)
    # How long ``refresh_now`` waits while a replica's round is on the integration.
    refresh_wait: ClassVar[float] = 0.0

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        publisher: Publisher,
        *,
        interval: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._publisher = publisher
        self._statuses = RemoteStatuses(sessionmaker, self.system)
        self._ledger = Ledger(sessionmaker, self.system)
        self._loop = IntegrationLoop(
            sessionmaker,
            system=self.system,
            work=self._refresh_reporting,
            interval=interval,
            lock_space=self.lock_space,
        )

    @abstractmethod
    async def refresh(self, integration: Integration) -> int:
        """Read one integration back; returns how many results it emitted."""

    async def _refresh_reporting(self, integration: Integration) -> int:
        """A grant refused during a read-back is reported at once, not only when the next
        document fails on it (an idle integration may have none for days)."""
        try:
            return await self.refresh(integration)
        except AuthorizationLost as exc:
            await report_connection_lost(self._publisher, integration, exc)
            raise

    async def run(self) -> None:
        await self._loop.run()

    def stop(self) -> None:
        self._loop.stop()

    async def poll_once(self) -> int:
        """One round over every active integration; returns the results emitted."""
        return await self._loop.run_once()

    async def refresh_now(self, integration_id: uuid.UUID) -> int | None:
        """One integration at once; None if it is not active or a replica stays on it
        longer than ``refresh_wait``."""
        return await self._loop.run_for(integration_id, wait=self.refresh_wait)

    async def booked(self, integration: Integration) -> list[Booked]:
        """The integration's documents in ``watched_states``, each with the last status
        seen."""
        return await list_booked(
            self._sessionmaker, self.system, integration.id, self.watched_states
        )

    async def report_booking(self, integration: Integration, booked: Booked, number: str) -> None:
        """A sent draft got its number remotely: emit the booking, then record it."""
        result = BookingAssigned(
            **booked.ids(integration),
            booking_number=number,
            remote_id=booked.remote_id,
            sent_at=booked.sent_at.astimezone(UTC),
        )
        await self._emit(integration, result)
        await self._ledger.record_number(*key_of(integration.id, booked), number)

    async def report(
        self, integration: Integration, booked: Booked, status: str, result: SyncResult | None
    ) -> None:
        """Emit ``result`` (if any), then record ``status`` as the last one seen."""
        if result is not None:
            await self._emit(integration, result)
        await self._statuses.save(key_of(integration.id, booked), status)
        log.info(
            "read-back change",
            system=self.system,
            integration_id=str(integration.id),
            document_id=str(booked.document_id),
            status=status,
        )

    async def report_payments(
        self,
        integration: Integration,
        seen: Iterable[tuple[Booked, str | None]],
        payment_of: Callable[[str | None], str | None] = lambda status: status,
    ) -> int:
        """Record each status seen (None: the system did not say) that differs from the
        last one, and report it where its payment status (``payment_of`` the system's
        status; None: not a payment status) changed; returns how many were reported."""
        emitted = 0
        for booked, status in seen:
            if status is None or status == booked.last_status:
                continue
            payment = payment_of(status)
            result = None
            if payment is not None and payment != payment_of(booked.last_status):
                result = PaymentStatusChanged(**booked.ids(integration), payment_status=payment)
                emitted += 1
            await self.report(integration, booked, status, result)
        return emitted

    async def _emit(self, integration: Integration, result: SyncResult) -> None:
        await publish_result(
            self._publisher, result, system=self.system, client_id=integration.client_id
        )
