"""One clock for decisions that depend on the date: token age, daily budgets, nightly
hours, retention ages.

In production it is the host's. In the dev stack and in tests it can follow the sandbox's
clock (``INVOICESYNC_CLOCK_URL``), so ``POST /_sandbox/clock/advance`` moves every service
a simulated day ahead at once. Sleeps and HTTP timeouts stay real, and leases are measured
on the database's clock, never on this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Protocol

import httpx
import structlog

log = structlog.get_logger()


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FollowedClock:
    """Real time plus the offset of a sandbox clock, polled every ``poll_seconds``.

    The sandbox answers ``GET {url}`` with ``{"now": <epoch seconds>}``. Between polls the
    offset stays, so this clock runs at real speed and jumps when the sandbox's is advanced.
    """

    def __init__(self, url: str, *, poll_seconds: float = 0.5) -> None:
        self.url = url
        self._poll_seconds = poll_seconds
        self._offset = 0.0

    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self._offset, UTC)

    async def sync(self, http: httpx.AsyncClient) -> None:
        response = await http.get(self.url)
        response.raise_for_status()
        self._offset = float(response.json()["now"]) - time.time()

    async def follow(self, stopping: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=5.0) as http:
            while not stopping.is_set():
                try:
                    await self.sync(http)
                except (httpx.HTTPError, KeyError, ValueError) as exc:
                    log.warning("clock not followed this round", error=str(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self._poll_seconds)


_clock: Clock = SystemClock()


def now() -> datetime:
    """The current time for date decisions, from the configured clock."""
    return _clock.now()


def use(clock: Clock) -> None:
    """Set the process's clock (at start-up, from the settings)."""
    global _clock
    _clock = clock


def configured(clock_url: str, environment: str) -> Clock:
    """The clock the settings ask for; following another clock is refused in production."""
    if not clock_url:
        return SystemClock()
    if environment == "production":
        raise ValueError("INVOICESYNC_CLOCK_URL is for development and tests only")
    return FollowedClock(clock_url)


@contextlib.asynccontextmanager
async def following(clock_url: str, environment: str) -> AsyncIterator[Clock]:
    """Use the configured clock for the lifetime of a service: synced once before it
    starts work, then followed in the background."""
    clock = configured(clock_url, environment)
    use(clock)
    if not isinstance(clock, FollowedClock):
        yield clock
        return
    async with httpx.AsyncClient(timeout=5.0) as http:
        try:
            await clock.sync(http)
        except httpx.HTTPError as exc:  # the sandbox may start after us: followed soon
            log.warning("clock not followed yet", url=clock.url, error=str(exc))
    stopping = asyncio.Event()
    task = asyncio.create_task(clock.follow(stopping), name="clock-follow")
    try:
        yield clock
    finally:
        stopping.set()
        await task
        use(SystemClock())
