"""Nightly runs: per integration with nightly_sync, at its hour in the client's time zone.

Every replica ticks; a transaction-level advisory lock lets one of them work per tick,
and a run already started within the last 20 hours is not started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Client, SyncRun
from invoicesync_api.errors import ApiError
from invoicesync_api.sync import service as runs
from invoicesync_api.sync.schemas import SyncRunIn
from invoicesync_shared.db.models import Integration

log = structlog.get_logger()
LOCK_ID = 0x1A5C_5EED  # arbitrary, fixed: "the nightly scheduler"
MIN_GAP = timedelta(hours=20)


def local_hour(now: datetime, timezone: str) -> int:
    try:
        return now.astimezone(ZoneInfo(timezone)).hour
    except ZoneInfoNotFoundError:
        return now.astimezone(UTC).hour


class NightlyScheduler:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, interval: float = 60.0
    ) -> None:
        self._sessionmaker = sessionmaker
        self._interval = interval
        self._stopping = asyncio.Event()

    async def tick(self, now: datetime | None = None) -> list[uuid.UUID]:
        """Start the runs due at ``now``; returns their ids (none if another replica works)."""
        now = now or datetime.now(UTC)
        started: list[uuid.UUID] = []
        async with self._sessionmaker.begin() as session:
            if not await session.scalar(select(func.pg_try_advisory_xact_lock(LOCK_ID))):
                return started
            due = await session.execute(
                select(Integration, Client)
                .join(Client, Client.id == Integration.client_id)
                .where(Integration.nightly_sync.is_(True), Integration.status == "active")
            )
            for integration, client in due:
                if local_hour(now, client.timezone) != integration.nightly_hour:
                    continue
                if await self._ran_recently(session, integration.id, now):
                    continue
                run_id = await self._start(session, integration)
                if run_id:
                    started.append(run_id)
        return started

    @staticmethod
    async def _ran_recently(
        session: AsyncSession, integration_id: uuid.UUID, now: datetime
    ) -> bool:
        last = await session.scalar(
            select(func.max(SyncRun.started_at)).where(
                SyncRun.trigger == "nightly", SyncRun.integration_ids.contains([integration_id])
            )
        )
        return last is not None and now - last < MIN_GAP

    @staticmethod
    async def _start(session: AsyncSession, integration: Integration) -> uuid.UUID | None:
        try:
            async with session.begin_nested():
                run = await runs.start(
                    session,
                    SyncRunIn(integration_id=integration.id),
                    integration.partner_id,
                    trigger="nightly",
                )
        except ApiError as exc:  # e.g. a manual run is going: tomorrow, then
            log.info("nightly run skipped", integration_id=str(integration.id), reason=exc.detail)
            return None
        return run.id

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("scheduler tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)

    def stop(self) -> None:
        self._stopping.set()
