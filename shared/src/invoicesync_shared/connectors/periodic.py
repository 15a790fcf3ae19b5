"""Periodic work per integration that no event triggers (payment read-back, audits of
booked entries), and the way such work reports results.

Every replica runs the loop; a per-integration advisory lock lets one of them work on an
integration at a time, so a change is reported once rather than once per replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.bus.producer import Publisher
from invoicesync_shared.connectors.errors import SyncError
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.events.results import SyncResult, result_event_id
from invoicesync_shared.states import IntegrationStatus

log = structlog.get_logger()

Work = Callable[[Integration], Awaitable[int]]
LOCK_RETRY_SECONDS = 0.2


def result_envelope(
    result: SyncResult, *, system: str, client_id: uuid.UUID, attempt: int | None = None
) -> Envelope:
    """A result keyed like the runtime's, so it stays ordered with them, with its
    deterministic id (``attempt``: the attempt a failure ended)."""
    return Envelope.wrap(
        result,
        source=f"/connectors/{system}",
        subject=str(result.document_id),
        key=str(client_id),
        event_id=result_event_id(result, attempt=attempt),
    )


async def publish_result(
    publisher: Publisher, result: SyncResult, *, system: str, client_id: uuid.UUID
) -> None:
    """Publish a result that is not recorded anywhere first (read-backs)."""
    envelope = result_envelope(result, system=system, client_id=client_id)
    await publisher.publish(result.TOPIC, envelope)


class IntegrationLoop:
    """Runs ``work`` for every active integration of ``system`` each ``interval`` seconds.

    ``lock_space`` keeps one loop's locks apart from another's (any fixed int32).
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        system: str,
        work: Work,
        interval: float,
        lock_space: int,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._system = system
        self._work = work
        self._interval = interval
        self._lock_space = lock_space
        self._stopped = asyncio.Event()
        self._woken = asyncio.Event()

    async def run(self) -> None:
        while not self._stopped.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("periodic round failed", system=self._system)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self._interval)
            self._woken.clear()

    def stop(self) -> None:
        self._stopped.set()
        self._woken.set()

    def wake(self) -> None:
        """Start the next round now instead of after the interval."""
        self._woken.set()

    async def run_once(self) -> int:
        """One round over every active integration; returns how many results it emitted."""
        emitted = 0
        for integration_id in await self._active_ids():
            emitted += await self.run_for(integration_id) or 0
        return emitted

    async def run_for(self, integration_id: uuid.UUID, *, wait: float = 0.0) -> int | None:
        """Work on one integration now; None when it is not an active integration of ours
        or another replica works on it (for longer than ``wait`` seconds: waiting lets a
        change that replica's round already passed be read again)."""
        async with self._locked(integration_id, wait) as acquired:
            if not acquired:
                return None
            integration = await self._integration(integration_id)
            if integration is None:
                return None
            try:
                return await self._work(integration)
            except SyncError as exc:
                log.warning(
                    "periodic work skipped", integration_id=str(integration_id), error=str(exc)
                )
            except Exception:
                # One broken integration (odd settings, a bug) must not stop the others.
                log.exception("periodic work failed", integration_id=str(integration_id))
            return 0

    async def _active_ids(self) -> list[uuid.UUID]:
        async with self._sessionmaker() as session:
            rows = await session.scalars(
                select(Integration.id)
                .where(
                    Integration.system == self._system,
                    Integration.status == IntegrationStatus.ACTIVE,
                )
                .order_by(Integration.id)
            )
            return list(rows)

    async def _integration(self, integration_id: uuid.UUID) -> Integration | None:
        async with self._sessionmaker() as session:
            found = await session.get(Integration, integration_id)
        if (
            found is None
            or found.system != self._system
            or found.status != IntegrationStatus.ACTIVE
        ):
            return None
        return found

    @asynccontextmanager
    async def _locked(self, integration_id: uuid.UUID, wait: float) -> AsyncIterator[bool]:
        """A session-level advisory lock on (loop, integration), tried for up to ``wait``
        seconds; released afterwards."""
        key = (self._lock_space, func.hashtext(str(integration_id)))
        tries = 1 + int(wait / LOCK_RETRY_SECONDS)
        async with self._sessionmaker() as session:
            for attempt in range(tries):  # the holder is another process: ask again shortly
                acquired = bool(await session.scalar(select(func.pg_try_advisory_lock(*key))))
                if acquired or attempt == tries - 1:
                    break
                await session.commit()  # no transaction left open idle while waiting
                await asyncio.sleep(LOCK_RETRY_SECONDS)
            try:
                yield acquired
            finally:
                if acquired:
                    await session.execute(select(func.pg_advisory_unlock(*key)))
