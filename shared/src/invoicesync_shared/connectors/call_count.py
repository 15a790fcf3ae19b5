"""Counting the calls a piece of work sends to an accounting system (a reconciliation
reports what it cost). Every request the ``VendorClient`` sends, retries and token
refreshes' repeats included, counts in the innermost ``counting()`` of the task."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


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


def count_call() -> None:
    calls = _CURRENT.get()
    if calls is not None:
        calls.sent += 1
