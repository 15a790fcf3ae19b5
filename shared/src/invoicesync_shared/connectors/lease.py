"""Keeping ledger leases while pushes run: rate-limit waits, retries and backoff can take
longer than the lease, so a heartbeat renews it; a push whose lease is lost stops.

One ``LeaseKeeper`` per runtime renews every claim it holds in one statement per round:
a batch of hundreds of pushes in flight costs one pooled connection a round, not one
each (per-push renewals queued for the pool, timed out, and let healthy leases lapse).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Collection
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol, TypeVar

import structlog
from prometheus_client import Counter

from invoicesync_shared.connectors.ledger import AttemptKey, Claim, Renewal

log = structlog.get_logger()
T = TypeVar("T")

LEASES_LOST = Counter(
    "invoicesync_leases_lost_total",
    "Pushes stopped or not recorded because their ledger lease was lost",
    ["system"],
)


class Renewer(Protocol):
    """What the keeper needs of the ledger (``Ledger.renew_all``)."""

    async def renew_all(self, claims: Collection[Claim], lease: timedelta) -> Renewal: ...


class LeaseLost(Exception):
    """The attempt's lease lapsed or another attempt took it: the outcome is not ours to
    record (the new holder looks the document up and reports)."""


@dataclass(eq=False)
class _Held:
    """A claim being kept: ``held_until`` is the loop time by which its lease surely holds
    (measured from before it was taken or last renewed); ``lost`` resolves with why it
    is no longer ours."""

    claim: Claim
    held_until: float
    lost: asyncio.Future[str] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def lose(self, why: str) -> None:
        if not self.lost.done():
            self.lost.set_result(why)


class LeaseKeeper:
    """The heartbeat of one runtime's leases. Every third of the lease one statement
    renews all held claims; a claim it does not return lapsed or was taken over. A failed
    round is retried after a twelfth; a claim not renewed while a third of its lease is
    still left is given up, so a wait never runs on past the lease unnoticed. The
    heartbeat runs only while claims are held (no start or stop for the owner)."""

    def __init__(self, ledger: Renewer, lease: timedelta) -> None:
        self._ledger = ledger
        self._lease = lease.total_seconds()
        self._interval = self._lease / 3
        self._held: dict[AttemptKey, _Held] = {}
        self._wake = asyncio.Event()
        self._retry_at: float | None = None  # after a failed round, until one succeeds
        self._task: asyncio.Task[None] | None = None

    async def while_holding(self, work: Awaitable[T], claim: Claim) -> T:
        """Run ``work`` while its claim is kept; if the lease is lost, ``work`` is
        cancelled and ``LeaseLost`` raised."""
        held = self._hold(claim)
        task = asyncio.ensure_future(work)
        try:
            either: set[asyncio.Future[Any]] = {task, held.lost}
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                return task.result()
            raise LeaseLost(held.lost.result())
        finally:
            self._release(held)
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
            if not task.cancelled():
                task.exception()  # retrieved: a failure after the lease was lost is not news

    def check(self, claim: Claim) -> None:
        """Raise ``LeaseLost`` unless ``claim`` is surely still ours (no database trip):
        before a retry or after a wait, a stalled process must not push on."""
        held = self._held.get((claim.key, claim.token))
        if held is None:
            raise LeaseLost("the lease is not kept")
        if not held.lost.done() and asyncio.get_running_loop().time() >= self._give_up_at(held):
            held.lose("the lease could not be renewed in time")
        if held.lost.done():
            raise LeaseLost(held.lost.result())

    def _hold(self, claim: Claim) -> _Held:
        held = _Held(claim, claim.held_until)
        self._held[(claim.key, claim.token)] = held
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._beat(), name="lease-keeper")
        self._wake.set()  # it may need renewing sooner than the heartbeat planned
        return held

    def _release(self, held: _Held) -> None:
        key = (held.claim.key, held.claim.token)
        if self._held.get(key) is held:
            del self._held[key]
        held.lose("released")
        self._wake.set()  # with none left the heartbeat ends

    def _give_up_at(self, held: _Held) -> float:
        return held.held_until - self._interval  # a third kept in hand against stalls

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                now = loop.time()
                for held in self._held.values():
                    if now >= self._give_up_at(held):
                        held.lose("the lease could not be renewed in time")
                live = [held for held in self._held.values() if not held.lost.done()]
                if not live:
                    self._retry_at = None
                    return
                renew_at = self._retry_at
                if renew_at is None:  # a third of the lease after the oldest was renewed
                    renew_at = min(held.held_until for held in live) - 2 * self._interval
                wake_at = min(renew_at, *(self._give_up_at(held) for held in live))
                if wake_at > now:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), wake_at - now)
                    continue
                await self._round(live)
        except Exception:
            log.exception("lease keeper failed")
        finally:  # none is kept any more: their pushes stop (on a normal end none is left)
            for held in self._held.values():
                held.lose("the lease keeper stopped")

    async def _round(self, live: list[_Held]) -> None:
        """Renew every live claim at once; the statement may take until the first of them
        must be given up."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        timeout = min(self._give_up_at(held) for held in live) - started
        claims = [held.claim for held in live]
        try:
            renewed = await asyncio.wait_for(
                self._ledger.renew_all(claims, timedelta(seconds=self._lease)), timeout
            )
        except Exception as exc:  # the database away or slow: try again soon while time is left
            log.warning("lease renewal failed", error=repr(exc), claims=len(live))
            self._retry_at = loop.time() + self._interval / 4
            return
        self._retry_at = None
        for held in live:
            key = (held.claim.key, held.claim.token)
            if key in renewed.renewed:
                held.held_until = max(held.held_until, started + self._lease)
            elif key in renewed.busy:  # not extended: asked again soon, before it lapses
                self._retry_at = loop.time() + self._interval / 4
            else:
                held.lose("the lease lapsed or another attempt took it")


async def while_holding(work: Awaitable[T], *, keeper: LeaseKeeper, claim: Claim) -> T:
    """Run ``work`` while ``keeper`` keeps ``claim``'s lease (see ``LeaseKeeper``)."""
    return await keeper.while_holding(work, claim)
