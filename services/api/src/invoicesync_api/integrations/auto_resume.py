"""A paused integration sends again by itself once the document it would send first
previews clean: the bookkeeper fixes the cause in the accounting system (adds the VAT
code, reopens the period) and need not come back to press resume.

The connector answers the preview from the system's live settings (read-only calls within
its budget), so "clean" means the refusal that paused it is gone. A preview that cannot be
had (connector away, system busy) is not clean: the integration stays paused and is asked
again next round. Nothing is waiting, nothing to prove: it stays paused until resumed.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.clients.repository import find_client
from invoicesync_api.documents import fanout
from invoicesync_api.errors.exceptions import Conflict
from invoicesync_api.integrations import brake, repository
from invoicesync_api.previews import connectors
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.documents import DocumentSnapshot

log = structlog.get_logger()
CHECKED = Counter(
    "invoicesync_brake_auto_resume_checks_total",
    "Paused integrations whose next waiting document was previewed, by outcome",
    ["outcome"],
)


class PausedReleaser:
    """Every ``interval`` seconds, previews the next waiting document of each paused
    integration and resumes those whose preview passes."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        connector_url: dict[str, str],
        *,
        interval: float,
        timeout: float,
        batch_size: int = 100,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._connector_url = connector_url
        self._interval = interval
        self._timeout = httpx.Timeout(timeout, connect=1.0)
        self._batch_size = batch_size
        self._stopping = asyncio.Event()

    async def release_once(self) -> int:
        """Resume every paused integration whose next document previews clean; how many."""
        async with self._sessionmaker() as session:
            paused = await repository.list_paused(session, self._batch_size)
            waiting = [(i, await self._next_document(session, i)) for i in paused]
        asking = [(i, document) for i, document in waiting if document is not None]
        CHECKED.labels("nothing_waiting").inc(len(waiting) - len(asking))
        if not asking:  # no HTTP client: its TLS context costs more CPU than the round
            return 0
        resumed = 0
        async with httpx.AsyncClient(timeout=self._timeout) as http:
            for integration, document in asking:
                answer = await connectors.ask(
                    http,
                    self._connector_url[integration.system],
                    integration.system,
                    integration.id,
                    document,
                )
                if answer.get("problems") or answer.get("payload") is None:
                    CHECKED.labels("still_failing").inc()
                    continue
                CHECKED.labels("clean").inc()
                resumed += await self._resume(integration)
        return resumed

    async def _next_document(
        self, session: AsyncSession, integration: Integration
    ) -> DocumentSnapshot | None:
        document = await repository.oldest_waiting_document(session, integration.id)
        if document is None:
            return None
        client = await find_client(session, document.client_id)
        return None if client is None else fanout.snapshot(document, client)

    async def _resume(self, integration: Integration) -> int:
        async with self._sessionmaker.begin() as session:
            current = await repository.find_integration(session, integration.id)
            if current is None:
                return 0
            try:
                asked = await brake.resume(session, current)
            except Conflict:  # resumed, relinked or deactivated meanwhile
                return 0
        log.info(
            "paused integration resumed by itself: its next document previews clean",
            integration_id=str(integration.id),
            documents=asked,
        )
        return 1

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.release_once()
            except Exception:
                log.exception("auto-resume round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)

    def stop(self) -> None:
        self._stopping.set()
