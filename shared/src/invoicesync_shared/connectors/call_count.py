"""Counting the calls sent to an accounting system, the same for every connector: per
system and method in ``invoicesync_vendor_calls_total`` (429s in
``invoicesync_vendor_rate_limited_total``), and per piece of work (a reconciliation
reports what it cost). Every request sent, retries and token refreshes' repeats included,
counts in the innermost ``counting()`` of the task. The ``VendorClient`` counts Exact's
and Lexware's requests, Yuki's SOAP client its operations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from invoicesync_shared.connectors.errors import RateLimited, SyncError
from invoicesync_shared.metrics import VENDOR_CALLS, VENDOR_RATE_LIMITED


@dataclass
class Calls:
    sent: int = 0


_CURRENT: ContextVar[Calls | None] = ContextVar("vendor_calls", default=None)


@contextmanager
def counting() -> Iterator[Calls]:
    """Count the calls sent inside the block (by this task and tasks it starts)."""
    calls = Calls()
    token = _CURRENT.set(calls)
    try:
        yield calls
    finally:
        _CURRENT.reset(token)


def count_call(system: str, method: str) -> None:
    """One request sent to ``system``."""
    VENDOR_CALLS.labels(system, method).inc()
    calls = _CURRENT.get()
    if calls is not None:
        calls.sent += 1


def count_decision(system: str, failure: SyncError | None) -> None:
    """What the system's ``classify`` decided on an answer: a 429 counts as rate-limited."""
    if isinstance(failure, RateLimited):
        VENDOR_RATE_LIMITED.labels(system).inc()
