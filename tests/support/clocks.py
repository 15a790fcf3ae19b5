"""The shared clock held at a moment, for tests of what the product dates by it (the API
runs in the test's process, so it reads this clock too)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime

from invoicesync_shared import clock


class HeldClock:
    """Always ``at``: a stored time equal to it came from the shared clock."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@contextlib.contextmanager
def held_at(at: datetime) -> Iterator[HeldClock]:
    """The shared clock held at ``at`` for the block, the host's afterwards."""
    held = HeldClock(at)
    clock.use(held)
    try:
        yield held
    finally:
        clock.use(clock.SystemClock())
