"""Staying inside an accounting system's rate budget instead of hitting its 429s.

``WindowBudget`` follows what the system reports (remaining calls and when the window
resets); ``DailyBudget`` does the same for a window too long to wait in (Exact's day) and
defers instead; ``TokenBucket`` paces a fixed rate (Lexware's 2 requests/second). Both are per
process and per scope; across replicas the system's own headers and Retry-After rule.
A wait for the budget gives the consumer's concurrency slot back (``bus.slots``): the
tenants waiting for their budgets never keep the others from working.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from invoicesync_shared import clock
from invoicesync_shared.bus.slots import without_slot
from invoicesync_shared.connectors.errors import Deferred
from invoicesync_shared.metrics import RATE_BUDGET

MINUTE = 60.0


@contextlib.asynccontextmanager
async def _locked(lock: asyncio.Lock) -> AsyncIterator[None]:
    """``lock`` held for the block. Held by another, it is held for a wait (the budget's
    locks are held across an await only while waiting for it), and that wait gives the
    consumer's slot back (``without_slot``), as the holder's own does."""
    if lock.locked():
        async with without_slot():
            await lock.acquire()
    else:
        await lock.acquire()
    try:
        yield
    finally:
        lock.release()


def seconds_until(reset_at: float, *, at_most: float) -> float:
    """From the shared clock to a system's reset (epoch seconds), never below zero nor
    above ``at_most`` (the window's length): a reset further away means the clocks
    disagree, not that the window is longer."""
    return min(max(reset_at - clock.now().timestamp(), 0.0), at_most)


@dataclass
class _Window:
    remaining: int | None = None
    reset_at: float = 0.0  # epoch seconds
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class WindowBudget:
    """Waits for the window's reset when the last answer said nothing is left.

    The reset is the system's time, compared with the shared clock (which follows the
    sandbox's in tests); a wait never exceeds the window's ``length``."""

    def __init__(self, *, reserve: int = 0, system: str = "", length: float = MINUTE) -> None:
        self._reserve = reserve
        self._system = system
        self._length = length
        self._windows: defaultdict[str, _Window] = defaultdict(_Window)
        self.waited_seconds = 0.0

    async def acquire(self, scope: str) -> None:
        window = self._windows[scope]
        async with _locked(window.lock):
            if window.remaining is not None and window.remaining <= self._reserve:
                delay = seconds_until(window.reset_at, at_most=self._length)
                if delay > 0:
                    self.waited_seconds += delay
                    async with without_slot():
                        await asyncio.sleep(delay)
                window.remaining = None  # unknown until the next answer says
            elif window.remaining is not None:
                window.remaining -= 1  # spend it now: concurrent callers see it gone

    def observe(self, scope: str, *, remaining: int, reset_at: float) -> None:
        window = self._windows[scope]
        if window.reset_at == reset_at:
            remaining = _not_given_back(remaining, window.remaining)
        window.remaining, window.reset_at = remaining, reset_at
        RATE_BUDGET.labels(self._system, scope).set(remaining)


class DailyBudget:
    """Refuses a call (``Deferred``) while the last answer said the day is spent.

    The reset is the system's own time (Exact: epoch milliseconds), compared with the
    shared clock, which follows the sandbox's in tests. Calls are spent as they are made,
    so concurrent callers see the last ones gone; an answer lowers the count (another
    replica spent some), never raises it within its window."""

    def __init__(self, *, reserve: int = 0, reason: str = "daily_limit") -> None:
        self._reserve = reserve
        self._reason = reason
        self._remaining: dict[str, int] = {}
        self._reset_at: dict[str, float] = {}  # epoch seconds

    def spend(self, scope: str) -> None:
        """Take one call of the day, or raise ``Deferred`` when none is left."""
        self.check(scope)
        remaining = self._remaining.get(scope)
        if remaining is not None:
            self._remaining[scope] = remaining - 1

    def check(self, scope: str) -> None:
        """Raise ``Deferred`` while the day is spent (after a 429 too: not retried then)."""
        remaining = self._remaining.get(scope)
        if remaining is None:
            return
        reset_at = self._reset_at.get(scope, 0.0)
        if reset_at <= clock.now().timestamp():
            del self._remaining[scope]  # a new day: unknown until the next answer says
            return
        if remaining <= self._reserve:
            until = datetime.fromtimestamp(reset_at, UTC)
            raise Deferred(
                f"The day's API calls for {scope} are spent until {until.isoformat()}.",
                until=until,
                reason=self._reason,
            )

    def observe(self, scope: str, *, remaining: int, reset_at: float) -> None:
        if self._reset_at.get(scope) == reset_at:
            remaining = _not_given_back(remaining, self._remaining.get(scope))
        self._remaining[scope], self._reset_at[scope] = remaining, reset_at


def _not_given_back(reported: int, spent_down_to: int | None) -> int:
    """What is left of a window after an answer within it. The answer counts the calls
    the system had seen when it answered; calls spent here since (still in flight) are
    not in it, so the lower count stands. Taking the answer's count would hand them out
    again, and the last call of the window would meet a 429."""
    return reported if spent_down_to is None else min(reported, spent_down_to)


class TokenBucket:
    """At most ``rate`` calls per second per scope, with bursts up to ``burst``."""

    def __init__(self, rate: float, *, burst: int = 1) -> None:
        self._interval = 1.0 / rate
        self._burst = burst
        self._next: defaultdict[str, float] = defaultdict(float)
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def acquire(self, scope: str) -> None:
        async with _locked(self._locks[scope]):
            now = time.monotonic()
            earliest = max(self._next[scope], now - self._interval * (self._burst - 1))
            if earliest > now:
                async with without_slot():
                    await asyncio.sleep(earliest - now)
            self._next[scope] = max(earliest, now) + self._interval
