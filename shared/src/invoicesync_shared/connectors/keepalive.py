"""Keep-alive of OAuth grants: an integration with nothing to send still refreshes its
tokens before the refresh token's idle expiry (Exact: 30 days unused), so a quiet month
never ends in a lapsed connection. A grant refused meanwhile is reported at once, like
every lost connection (the API announces it)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared import clock
from invoicesync_shared.bus.producer import Publisher
from invoicesync_shared.connectors.connection import report_connection_lost
from invoicesync_shared.connectors.errors import AuthorizationLost
from invoicesync_shared.connectors.oauth import TokenStore
from invoicesync_shared.connectors.periodic import IntegrationLoop
from invoicesync_shared.db.models import Integration

log = structlog.get_logger()
LOCK_SPACE = 0x1E3A_0004  # advisory locks of this loop: (LOCK_SPACE, integration)


class TokenKeepAlive:
    """Every ``interval`` seconds, refresh each active integration of ``system`` whose
    grant was last refreshed more than ``max_idle`` ago (by the shared clock)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        publisher: Publisher,
        tokens: TokenStore,
        *,
        system: str,
        max_idle: timedelta,
        interval: float,
    ) -> None:
        self._publisher = publisher
        self._tokens = tokens
        self._max_idle = max_idle
        self._loop = IntegrationLoop(
            sessionmaker, system=system, work=self._keep, interval=interval, lock_space=LOCK_SPACE
        )

    async def _keep(self, integration: Integration) -> int:
        try:
            refreshed = await self._tokens.keep_alive(
                integration.id, refreshed_before=clock.now() - self._max_idle
            )
        except AuthorizationLost as exc:
            await report_connection_lost(self._publisher, integration, exc)
            raise
        if refreshed:
            log.info("idle grant refreshed", integration_id=str(integration.id))
        return int(refreshed)

    async def run_once(self) -> int:
        """One round; returns how many grants were refreshed."""
        return await self._loop.run_once()

    async def run_for(self, integration_id: uuid.UUID) -> int | None:
        """One integration now; None if it is not active or a replica is on it."""
        return await self._loop.run_for(integration_id)

    async def run(self) -> None:
        await self._loop.run()

    def stop(self) -> None:
        self._loop.stop()
