"""Staying inside an accounting system's rate budget instead of hitting its 429s.

``WindowBudget`` follows what the system reports (remaining calls and when the window
resets); ``TokenBucket`` paces a fixed rate (Lexware's 2 requests/second). Both are per
process and per scope; across replicas the system's own headers and Retry-After rule.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field

from invoicesync_shared.metrics import RATE_BUDGET


@dataclass
class _Window:
    remaining: int | None = None
    reset_at: float = 0.0  # epoch seconds
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class WindowBudget:
    """Waits for the window's reset when the last answer said nothing is left."""

    def __init__(self, *, reserve: int = 0, system: str = "") -> None:
        self._reserve = reserve
        self._system = system
        self._windows: defaultdict[str, _Window] = defaultdict(_Window)
        self.waited_seconds = 0.0

    async def acquire(self, scope: str) -> None:
        window = self._windows[scope]
        async with window.lock:
            if window.remaining is not None and window.remaining <= self._reserve:
                delay = window.reset_at - time.time()
                if delay > 0:
                    self.waited_seconds += delay
                    await asyncio.sleep(delay)
                window.remaining = None  # unknown until the next answer says
            elif window.remaining is not None:
                window.remaining -= 1  # spend it now: concurrent callers see it gone

    def observe(self, scope: str, *, remaining: int, reset_at: float) -> None:
        window = self._windows[scope]
        window.remaining, window.reset_at = remaining, reset_at
        RATE_BUDGET.labels(self._system, scope).set(remaining)


class TokenBucket:
    """At most ``rate`` calls per second per scope, with bursts up to ``burst``."""

    def __init__(self, rate: float, *, burst: int = 1) -> None:
        self._interval = 1.0 / rate
        self._burst = burst
        self._next: defaultdict[str, float] = defaultdict(float)
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def acquire(self, scope: str) -> None:
        async with self._locks[scope]:
            now = time.monotonic()
            earliest = max(self._next[scope], now - self._interval * (self._burst - 1))
            if earliest > now:
                await asyncio.sleep(earliest - now)
            self._next[scope] = max(earliest, now) + self._interval
