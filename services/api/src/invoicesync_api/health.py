"""Health of what the API depends on but does not need to serve: the broker and the
connectors.

Readiness (``/readyz``) depends on the database alone: when a connector or the broker is
down, the API must keep accepting documents (the outbox holds them), so their state is
reported beside it — on ``/healthz/dependencies`` and in each integration's ``health`` —
instead of taking every API replica out of service.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Literal

import httpx

from invoicesync_api.settings import ApiSettings

State = Literal["up", "down", "unknown"]
SYSTEMS = ("exact", "lexware", "yuki")
PROBE_TIMEOUT_SECONDS = 2.0


class DependencyHealth:
    """Connector probes are cached for ``ttl`` seconds, so a page of integrations costs
    at most one probe per system, not one per row."""

    def __init__(
        self, settings: ApiSettings, broker_ok: Callable[[], bool | None], ttl: float = 10.0
    ) -> None:
        self._settings = settings
        self._broker_ok = broker_ok
        self._ttl = ttl
        self._cached: dict[str, tuple[float, State]] = {}
        self._lock = asyncio.Lock()

    def broker(self) -> State:
        """``unknown`` on a replica that runs no workers (it never talks to the broker)."""
        ok = self._broker_ok()
        return "unknown" if ok is None else "up" if ok else "down"

    async def connector(self, system: str) -> State:
        async with self._lock:
            cached = self._cached.get(system)
            if cached is not None and time.monotonic() - cached[0] < self._ttl:
                return cached[1]
            state = await self._probe(system)
            self._cached[system] = (time.monotonic(), state)
            return state

    async def summary(self) -> dict[str, State]:
        connectors = await asyncio.gather(*(self.connector(s) for s in SYSTEMS))
        return {"broker": self.broker()} | {
            f"connector_{system}": state for system, state in zip(SYSTEMS, connectors, strict=True)
        }

    async def _probe(self, system: str) -> State:
        try:
            async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_SECONDS) as http:
                response = await http.get(f"{self._settings.connector_url(system)}/readyz")
        except httpx.HTTPError:
            return "down"
        return "up" if response.status_code == 200 else "down"
