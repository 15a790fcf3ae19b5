"""Reading a period's entries for a reconciliation, the same way for every system.

The API asks (``ReconciliationRequested``); a connector that can read its system's entries
(``EntryReader``) does so the cheapest way it knows, through its own paced vendor client;
this module sends them on in chunks, then one ``ReconciliationRead`` with the calls used,
or with why the read failed. It compares nothing and writes nothing of the API's.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol, runtime_checkable

import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.bus.producer import Publisher
from invoicesync_shared.connectors.call_count import Calls, counting
from invoicesync_shared.connectors.connection import report_connection_lost
from invoicesync_shared.connectors.errors import AuthorizationLost, PermanentError, SyncError
from invoicesync_shared.connectors.ledger import Ledger
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.envelope import Envelope, Event
from invoicesync_shared.events.reconciliations import (
    CHUNK_SIZE,
    ReconciliationEntriesRead,
    ReconciliationRead,
    ReconciliationRequested,
    RemoteEntry,
)
from invoicesync_shared.states import FailureCode, IntegrationStatus

log = structlog.get_logger()


@dataclass(frozen=True)
class Period:
    """Entry dates from ``start`` to ``end``, both included."""

    start: date
    end: date

    def holds(self, day: date | None) -> bool:
        return day is not None and self.start <= day <= self.end


@dataclass
class _Read:
    """One read under way: what asked, and how far it got."""

    envelope: Envelope
    request: ReconciliationRequested
    chunks: int = 0
    entries: int = 0
    calls: Calls = field(default_factory=Calls)


@runtime_checkable
class EntryReader(Protocol):
    """A connector that can read its system's sales entries of a period."""

    def read_entries(
        self,
        integration: Integration,
        settings: Any,
        period: Period,
        ledger: Ledger,
        detailed: bool = False,
    ) -> AsyncIterator[list[RemoteEntry]]:
        """The period's entries, a page at a time; ``ledger`` tells which remote ids the
        connector booked (so an entry it knows needs no extra read for our reference);
        ``detailed``: net and VAT per rate for every entry, at whatever extra cost."""
        ...


class ReconciliationReader:
    """Serves ``ReconciliationRequested`` for one system's connector."""

    def __init__(
        self,
        connector: object,
        *,
        system: str,
        settings_model: Any,
        sessionmaker: async_sessionmaker[AsyncSession],
        publisher: Publisher,
        ledger: Ledger,
    ) -> None:
        self._connector = connector
        self._system = system
        self._settings_model = settings_model
        self._sessionmaker = sessionmaker
        self._publisher = publisher
        self._ledger = ledger

    async def handle(self, envelope: Envelope) -> None:
        try:
            request = ReconciliationRequested.model_validate(envelope.data)
        except ValidationError as exc:
            log.error("invalid reconciliation request", event_id=envelope.id, errors=exc.errors())
            return
        if request.system != self._system:
            return
        async with self._sessionmaker() as session:
            integration = await session.get(Integration, request.integration_id)
        read = _Read(envelope, request)
        if integration is None or integration.status != IntegrationStatus.ACTIVE:
            message = "The integration is not active; connect it again, then reconcile."
            await self._finish(read, FailureCode.INTEGRATION_INACTIVE, message)
            return
        if not isinstance(self._connector, EntryReader):
            message = f"Reconciliation is not available for {self._system} yet."
            await self._finish(read, "not_supported", message)
            return
        with counting() as read.calls:
            try:
                await self._read(self._connector, integration, read)
            except AuthorizationLost as exc:
                await report_connection_lost(self._publisher, integration, exc)
                await self._finish(read, exc.code, exc.message)
                return
            except PermanentError as exc:
                await self._finish(read, exc.code, exc.message)
                return
            except SyncError as exc:
                log.warning(
                    "reconciliation read failed",
                    reconciliation_id=str(request.reconciliation_id),
                    error=str(exc),
                )
                message = f"{self._system} could not be read ({exc}); try again later."
                await self._finish(read, FailureCode.UNAVAILABLE, message)
                return
        log.info(
            "reconciliation read",
            reconciliation_id=str(request.reconciliation_id),
            entries=read.entries,
            calls=read.calls.sent,
        )
        await self._finish(read, None, None)

    async def _read(self, reader: EntryReader, integration: Integration, read: _Read) -> None:
        """Read the period, sending full chunks as they fill and the rest at the end."""
        request = read.request
        settings = self._settings_model.stored(integration.settings)
        period = Period(request.period_from, request.period_to)
        pending: list[RemoteEntry] = []
        pages = reader.read_entries(integration, settings, period, self._ledger, request.detailed)
        async for page in pages:
            pending += page
            while len(pending) >= CHUNK_SIZE:
                await self._chunk(read, pending[:CHUNK_SIZE])
                pending = pending[CHUNK_SIZE:]
        if pending:
            await self._chunk(read, pending)

    async def _chunk(self, read: _Read, entries: list[RemoteEntry]) -> None:
        event = ReconciliationEntriesRead(
            reconciliation_id=read.request.reconciliation_id,
            integration_id=read.request.integration_id,
            chunk=read.chunks,
            entries=entries,
            calls_used=read.calls.sent,
        )
        await self._publish(read.envelope, event, f"chunk-{read.chunks}")
        read.chunks += 1
        read.entries += len(entries)

    async def _finish(self, read: _Read, code: str | None, message: str | None) -> None:
        event = ReconciliationRead(
            reconciliation_id=read.request.reconciliation_id,
            integration_id=read.request.integration_id,
            chunks=read.chunks,
            entries=read.entries,
            calls_used=read.calls.sent,
            failure_code=code,
            message=message,
        )
        await self._publish(read.envelope, event, "read")

    async def _publish(self, request: Envelope, event: Event, part: str) -> None:
        """Keyed like the request (the client) and with one subject, the reconciliation's
        id, so the API takes the chunks and the last event in order (its result consumer
        keeps order per subject); a new id each read (a repeated read may find other
        entries), ``part`` only in the logs."""
        data = event.model_dump()
        wrapped = Envelope.wrap(
            event,
            source=f"/connectors/{self._system}",
            subject=str(data["reconciliation_id"]),
            key=request.key,
            event_id=str(uuid.uuid4()),
        )
        await self._publisher.publish(event.TOPIC, wrapped)
        log.debug("reconciliation part sent", part=part, event_id=wrapped.id)
