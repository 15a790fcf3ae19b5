"""Lexware's token bucket: N requests per second per client, on the sandbox clock.

A refused request is answered with 429 before any handler runs, so it has no side effect.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from invoicesync_sandbox.clock import Clock


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """One bucket per client key; capacity and refill rate are ``rate`` per second."""

    def __init__(self, clock: Clock, rate: float) -> None:
        self.clock = clock
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self.refused: Counter[str] = Counter()  # 429s served per client key (soak figures)

    def take(self, key: str) -> bool:
        """Consume one token for ``key``; False when the bucket is empty."""
        if self.rate <= 0:
            return True
        now = self.clock.now()
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket(self.capacity, now))
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(self.capacity, bucket.tokens + elapsed * self.rate)
            bucket.updated = now
            if bucket.tokens < 1.0:
                self.refused[key] += 1
                return False
            bucket.tokens -= 1.0
            return True

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
            self.refused.clear()
