"""Nightly runs: per integration with nightly_sync, at its hour in the client's time zone;
and nightly reconciliations of the days before, where nightly_reconciliation_days is set.

Every replica ticks; a transaction-level advisory lock lets one of them work per tick.
A night is due from its hour on until a run was started for it, for ``catch_up`` after
the hour: a night whose hour passed while the API was down (or while a manual run held
the integration) runs at the first tick after, the same night, and never twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.errors.exceptions import ApiError
from invoicesync_api.reconciliations import nightly
from invoicesync_api.sync import repository
from invoicesync_api.sync import service as runs
from invoicesync_api.sync.schemas import SyncRunIn
from invoicesync_shared import clock
from invoicesync_shared.db.models import Integration

log = structlog.get_logger()
LOCK_ID = 0x1A5C_5EED  # arbitrary, fixed: "the nightly scheduler"
CATCH_UP = timedelta(hours=12)


def _zone(timezone: str) -> tzinfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def last_night(now: datetime, timezone: str, hour: int) -> datetime:
    """The latest moment at or before ``now`` when the local clock showed ``hour``:00."""
    zone = _zone(timezone)
    local = now.astimezone(zone)
    slot = datetime.combine(local.date(), time(hour), tzinfo=zone)
    if slot > local:
        slot = datetime.combine(local.date() - timedelta(days=1), time(hour), tzinfo=zone)
    return slot.astimezone(UTC)


class NightlyScheduler:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        interval: float = 60.0,
        catch_up: timedelta = CATCH_UP,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._interval = interval
        self._catch_up = catch_up
        self._stopping = asyncio.Event()

    async def tick(self, now: datetime | None = None) -> list[uuid.UUID]:
        """Start the runs due at ``now``; returns their ids (none if another replica works)."""
        now = now or clock.now()
        started: list[uuid.UUID] = []
        async with self._sessionmaker.begin() as session:
            if not await repository.try_xact_lock(session, LOCK_ID):
                return started
            for integration, client in await repository.list_nightly_integrations(session):
                night = last_night(now, client.timezone, integration.nightly_hour)
                if now - night >= self._catch_up or not _active_at(integration, night):
                    continue
                if await self._ran_since(session, integration.id, night):
                    continue
                run_id = await self._start(session, integration, now)
                if run_id:
                    started.append(run_id)
            started += await self._reconcile(session, now)
        return started

    async def _reconcile(self, session: AsyncSession, now: datetime) -> list[uuid.UUID]:
        """The nightly reconciliations due at ``now`` (same hour and catch-up as runs)."""
        started: list[uuid.UUID] = []
        for integration, client in await nightly.due(session):
            night = last_night(now, client.timezone, integration.nightly_hour)
            if now - night >= self._catch_up or not _active_at(integration, night):
                continue
            if await nightly.ran_since(session, integration.id, night):
                continue
            local = night.astimezone(_zone(client.timezone))
            reconciliation_id = await nightly.start(session, integration, local, now)
            if reconciliation_id:
                started.append(reconciliation_id)
        return started

    @staticmethod
    async def _ran_since(session: AsyncSession, integration_id: uuid.UUID, night: datetime) -> bool:
        last = await repository.last_nightly_start(session, integration_id)
        return last is not None and last >= night

    @staticmethod
    async def _start(
        session: AsyncSession, integration: Integration, now: datetime
    ) -> uuid.UUID | None:
        try:
            async with session.begin_nested():
                run = await runs.start(
                    session,
                    SyncRunIn(integration_id=integration.id),
                    integration.partner_id,
                    trigger="nightly",
                    started_at=now,
                )
        except ApiError as exc:  # e.g. a manual run is going: caught up at a later tick
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


def _active_at(integration: Integration, night: datetime) -> bool:
    """A night before the integration was connected is not one it missed."""
    return integration.activated_at is not None and integration.activated_at <= night
