"""Exact's API limits: calls per minute and per day per (app, division), and the error
block that shuts an app out of one endpoint for an hour after too many errors.

A window opens with the first call after the previous one ended (a minute, a day) and
runs on the sandbox clock, so a time scale or ``/_sandbox/clock/advance`` moves it.
Resets are reported in epoch milliseconds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

MINUTE = 60.0
DAY = 86_400.0
HOUR = 3_600.0
REPEAT_WINDOW = 24 * HOUR  # a new block this soon after the last one ends is longer
MAX_BLOCK = 24 * HOUR
ERROR_STATUSES = frozenset({400, 401, 403, 404})


@dataclass
class _Window:
    length: float
    start: float = -1.0
    count: int = 0

    def roll(self, now: float) -> None:
        if self.start < 0 or now >= self.start + self.length:
            self.start, self.count = now, 0

    def reset_ms(self) -> int:
        return int((self.start + self.length) * 1000)


@dataclass
class _Usage:
    minute: _Window = field(default_factory=lambda: _Window(MINUTE))
    day: _Window = field(default_factory=lambda: _Window(DAY))


@dataclass
class Verdict:
    allowed: bool
    headers: dict[str, str]


@dataclass
class RateLimiter:
    """Counts calls per key; a call past either limit is refused and not counted."""

    minutely_limit: int
    daily_limit: int
    usage: dict[tuple[str, int], _Usage] = field(default_factory=dict)

    def take(self, key: tuple[str, int], now: float) -> Verdict:
        usage = self.usage.setdefault(key, _Usage())
        usage.minute.roll(now)
        usage.day.roll(now)
        allowed = usage.minute.count < self.minutely_limit and usage.day.count < self.daily_limit
        if allowed:
            usage.minute.count += 1
            usage.day.count += 1
        return Verdict(allowed, self._headers(usage))

    def _headers(self, usage: _Usage) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.daily_limit),
            "X-RateLimit-Remaining": str(max(0, self.daily_limit - usage.day.count)),
            "X-RateLimit-Reset": str(usage.day.reset_ms()),
            "X-RateLimit-Minutely-Limit": str(self.minutely_limit),
            "X-RateLimit-Minutely-Remaining": str(max(0, self.minutely_limit - usage.minute.count)),
            "X-RateLimit-Minutely-Reset": str(usage.minute.reset_ms()),
        }


ErrorKey = tuple[str, int, str]  # (client_id, division, endpoint)


@dataclass(frozen=True)
class CountedError:
    """One answer the block counts, with the call it answered (to explain a block)."""

    at: float
    status: int
    call: str  # "GET /api/v1/…"


@dataclass(frozen=True)
class Block:
    """A block that began: when, until when, and the errors that caused it."""

    key: ErrorKey
    at: float
    until: float
    errors: tuple[CountedError, ...]


@dataclass
class ErrorBlocker:
    """More than ``threshold`` errors per key within ``window`` seconds blocks the key.

    ``status`` is what a blocked call gets (429 by default; 403 is the alternative). Each
    block is kept with the errors that caused it (``blocks``), so a test or a developer
    can see which calls an app should not have made.
    """

    threshold: int = 10
    window: float = HOUR
    block_seconds: float = HOUR
    status: int = 429
    errors: dict[ErrorKey, deque[CountedError]] = field(default_factory=dict)
    blocked_until: dict[ErrorKey, float] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)

    def blocked(self, key: ErrorKey, now: float) -> float | None:
        """The sandbox time the block ends, if ``key`` is blocked now."""
        until = self.blocked_until.get(key)
        if until is None or until <= now:
            self.blocked_until.pop(key, None)
            return None
        return until

    def record(self, key: ErrorKey, status: int, now: float, call: str = "") -> None:
        if status not in ERROR_STATUSES:
            return
        recent = self.errors.setdefault(key, deque())
        recent.append(CountedError(now, status, call))
        while recent and recent[0].at <= now - self.window:
            recent.popleft()
        if len(recent) > self.threshold:
            until = now + self._length(key, now)
            self.blocked_until[key] = until
            self.blocks.append(Block(key, now, until, tuple(recent)))
            recent.clear()

    def _length(self, key: ErrorKey, now: float) -> float:
        """Exact: "the block grows longer if errors continue". How much longer is not
        published (unverified); strict reading: a key blocked again within a day of its
        last block's end is blocked twice as long as then, up to a day."""
        previous = next((b for b in reversed(self.blocks) if b.key == key), None)
        if previous is None or now - previous.until >= REPEAT_WINDOW:
            return self.block_seconds
        return min(2 * (previous.until - previous.at), MAX_BLOCK)

    def clear(self) -> None:
        self.errors.clear()
        self.blocked_until.clear()
        self.blocks.clear()
