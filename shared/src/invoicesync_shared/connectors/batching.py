"""Micro-batching for accounting APIs that take many documents per call (Yuki).

Items for one key that arrive within a short window go out in one call; every caller
awaits its own outcome, so one refused item never fails the others. Told where the work
comes from (``follow``), a batch waits to be full while a backlog is there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")

# One outcome per item, in order: the item's result, or the exception it must raise.
SendBatch = Callable[[K, Sequence[T]], Awaitable[Sequence[R | BaseException]]]
# How many items are on their way, those already submitted included (a consumer's backlog).
Backlog = Callable[[], int]


@dataclass
class _Batch(Generic[T, R]):
    items: list[T] = field(default_factory=list)
    futures: list[asyncio.Future[R]] = field(default_factory=list)
    opened: float = 0.0  # loop time of the first item
    timer: asyncio.TimerHandle | None = None  # the window: since the first item
    lull: asyncio.TimerHandle | None = None  # the pause: since the latest item


class MicroBatcher(Generic[K, T, R]):
    """Groups items per key; flushes when ``window`` seconds have passed since the first
    item of a batch, when no item came for ``pause`` seconds, or at once when
    ``max_size`` items are waiting.

    Under a backlog items keep coming, so batches grow to the window or the size; when
    it is quiet, a lone item waits only the pause. Following a backlog (``follow``),
    neither the window nor the pause sends a batch while more items are on their way
    than the batches hold: fetches from the broker fall as they fall, and a gap between
    two is no reason to send half a batch. ``max_wait`` bounds that wait.
    """

    def __init__(
        self,
        send: SendBatch[K, T, R],
        *,
        window: float,
        max_size: int,
        pause: float | None = None,
        max_wait: float | None = None,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._send = send
        self._window = window
        self._pause = pause
        self._max_size = max_size
        self._max_wait = max(window, max_wait if max_wait is not None else 10 * window)
        self._open: dict[K, _Batch[T, R]] = {}
        self._flights: set[asyncio.Task[None]] = set()
        self._backlog: Backlog | None = None
        self._held = 0  # items submitted and not answered yet: open batches and calls

    def follow(self, backlog: Backlog) -> None:
        """Wait for full batches while ``backlog()`` says more items are coming than
        are held here already."""
        self._backlog = backlog

    async def submit(self, key: K, item: T) -> R:
        """The outcome of ``item``; raises what the batch call decided for it."""
        loop = asyncio.get_running_loop()
        batch = self._open.get(key)
        if batch is None:
            batch = self._open[key] = _Batch(opened=loop.time())
            batch.timer = loop.call_later(self._window, self._due, key, batch)
        future: asyncio.Future[R] = loop.create_future()
        batch.items.append(item)
        batch.futures.append(future)
        self._held += 1
        if len(batch.items) >= self._max_size:
            self._flush(key, batch)
        elif self._pause is not None and self._pause < self._window:
            if batch.lull is not None:
                batch.lull.cancel()
            batch.lull = loop.call_later(self._pause, self._due, key, batch)
        try:
            return await future
        except asyncio.CancelledError:
            self._withdraw(key, batch, future)
            raise
        finally:
            self._held -= 1

    def _due(self, key: K, batch: _Batch[T, R]) -> None:
        """The window or the pause has passed: send, unless a backlog is coming in (then
        look again a pause later, up to ``max_wait`` since the first item)."""
        if self._open.get(key) is not batch:
            return
        loop = asyncio.get_running_loop()
        waited = loop.time() - batch.opened
        if self._more_coming() and waited < self._max_wait:
            if batch.lull is not None:
                batch.lull.cancel()
            again = min(self._pause or self._window, self._max_wait - waited)
            batch.lull = loop.call_later(again, self._due, key, batch)
            return
        self._flush(key, batch)

    def _more_coming(self) -> bool:
        return self._backlog is not None and self._backlog() > self._held

    def _withdraw(self, key: K, batch: _Batch[T, R], future: asyncio.Future[R]) -> None:
        """A caller that stopped waiting (a push stopped at its deadline) takes its item
        out of a batch not sent yet: nothing goes out for a push that is over."""
        if self._open.get(key) is not batch or future not in batch.futures:
            return  # sent already: its outcome is the lookup's to find
        index = batch.futures.index(future)
        del batch.items[index], batch.futures[index]
        if not batch.items:
            del self._open[key]
            for timer in (batch.timer, batch.lull):
                if timer is not None:
                    timer.cancel()

    async def drain(self) -> None:
        """Send what is waiting now and wait for every call in flight (shutdown, tests)."""
        for key, batch in list(self._open.items()):
            self._flush(key, batch)
        while self._flights:
            await asyncio.gather(*self._flights, return_exceptions=True)

    def _flush(self, key: K, batch: _Batch[T, R]) -> None:
        if self._open.get(key) is not batch:
            return  # already sent (full before the window elapsed)
        del self._open[key]
        for timer in (batch.timer, batch.lull):
            if timer is not None:
                timer.cancel()
        task = asyncio.ensure_future(self._deliver(key, batch))
        self._flights.add(task)
        task.add_done_callback(self._flights.discard)

    async def _deliver(self, key: K, batch: _Batch[T, R]) -> None:
        try:
            outcomes = await self._send(key, batch.items)
            if len(outcomes) != len(batch.items):
                raise RuntimeError(f"{len(outcomes)} outcomes for {len(batch.items)} items")
        except asyncio.CancelledError:
            for future in batch.futures:
                future.cancel()
            raise
        except Exception as exc:  # the call as a whole failed: every member hears it
            outcomes = [exc] * len(batch.items)
        for future, outcome in zip(batch.futures, outcomes, strict=True):
            if future.done():
                continue  # the caller was cancelled
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
