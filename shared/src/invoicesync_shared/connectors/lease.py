"""Keeping a ledger lease while a push runs: rate-limit waits, retries and backoff can
take longer than the lease, so a heartbeat renews it; a push whose lease is lost stops."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import structlog
from prometheus_client import Counter

log = structlog.get_logger()
T = TypeVar("T")

LEASES_LOST = Counter(
    "invoicesync_leases_lost_total",
    "Pushes stopped or not recorded because their ledger lease was lost",
    ["system"],
)


class LeaseLost(Exception):
    """The attempt's lease lapsed or another attempt took it: the outcome is not ours to
    record (the new holder looks the document up and reports)."""


async def while_holding(
    work: Awaitable[T],
    *,
    renew: Callable[[], Awaitable[bool]],
    lease: timedelta,
    held_until: float,
) -> T:
    """Run ``work`` while renewing its lease every third of it.

    ``held_until`` is the loop time by which the lease surely holds (measured from before
    it was taken or last renewed). If a renewal finds the lease gone, or none succeeds
    while a third of the lease is still left, ``work`` is cancelled and ``LeaseLost``
    raised: a wait never runs on past the lease unnoticed.
    """
    loop = asyncio.get_running_loop()
    seconds = lease.total_seconds()
    interval = seconds / 3
    task = asyncio.ensure_future(work)
    renew_at = loop.time() + interval
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=max(0.0, renew_at - loop.time()))
            if done:
                return task.result()
            started = loop.time()
            give_up_at = held_until - interval  # a third kept in hand against stalls
            try:
                renewed = await asyncio.wait_for(renew(), timeout=max(0.0, give_up_at - started))
            except Exception as exc:  # the database away or slow: try again while time is left
                log.warning("lease renewal failed", error=repr(exc))
                if loop.time() >= give_up_at:
                    raise LeaseLost("the lease could not be renewed in time") from exc
                renew_at = min(loop.time() + interval / 4, give_up_at)
                continue
            if not renewed:
                raise LeaseLost("the lease lapsed or another attempt took it")
            held_until = started + seconds
            renew_at = started + interval
    finally:
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # retrieved: a failure after the lease was lost is not news
