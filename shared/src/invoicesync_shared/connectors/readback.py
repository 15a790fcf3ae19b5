"""What every read-back of booked documents shares (payments, audits of entries): a loop
over the system's active integrations, the last statuses seen, and where results go.

A connector subclasses ``ReadBack`` with its ``refresh(integration)``; the service runs
``run()``/``stop()``, the control port's POST /integrations/{id}/refresh calls
``refresh_now(id)``.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from typing import ClassVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.bus.producer import Publisher
from invoicesync_shared.connectors.periodic import IntegrationLoop
from invoicesync_shared.connectors.remote_status import RemoteStatuses
from invoicesync_shared.db.models import Integration


class ReadBack(ABC):
    system: ClassVar[str]
    lock_space: ClassVar[int]  # advisory locks of this loop: (lock_space, integration)

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
        self._loop = IntegrationLoop(
            sessionmaker,
            system=self.system,
            work=self.refresh,
            interval=interval,
            lock_space=self.lock_space,
        )

    @abstractmethod
    async def refresh(self, integration: Integration) -> int:
        """Read one integration back; returns how many results it emitted."""

    async def run(self) -> None:
        await self._loop.run()

    def stop(self) -> None:
        self._loop.stop()

    async def poll_once(self) -> int:
        """One round over every active integration; returns the results emitted."""
        return await self._loop.run_once()

    async def refresh_now(self, integration_id: uuid.UUID) -> int | None:
        """One integration at once; None if it is not active or a replica is on it."""
        return await self._loop.run_for(integration_id)
