"""A scalable clock, so rate windows and token lifetimes can run faster in benchmarks."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Clock:
    """Sandbox time: real time multiplied by ``scale`` from the moment of creation."""

    scale: float = 1.0
    _origin_real: float = field(default_factory=time.time)
    _offset: float = 0.0  # seconds added by /_sandbox/clock/advance

    def now(self) -> float:
        """Seconds since the epoch, in sandbox time."""
        real = time.time()
        return self._origin_real + (real - self._origin_real) * self.scale + self._offset

    def advance(self, seconds: float) -> None:
        """Jump ahead (token expiry, rate windows) without waiting."""
        self._offset += seconds
