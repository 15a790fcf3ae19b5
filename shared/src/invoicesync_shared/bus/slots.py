"""A consumer's concurrency slot, given back while its handler only waits.

The pipelined consumer (``EventConsumer`` with ``concurrency`` above 1) runs a handler
in one of its slots. A handler that waits for its tenant's rate budget (Exact's division
until its minute resets, a Lexware organisation for its next request slot) does no work
meanwhile: holding the slot would let the tenants waiting for their budgets fill every
slot, and cap how many tenants are worked side by side below what their budgets allow
(32 slots, 100 divisions: a third of the budgets). ``without_slot`` hands the slot to
the next tenant for the wait and takes one again, in turn, before going on. The waiting
handler keeps its place in its own tenant's lane, so each tenant's records still go one
at a time, in order.

A region that holds a database connection across its waits keeps its slot
(``keeping_slot``): giving it back there could leave slot holders waiting for connections
held by handlers waiting for slots. Outside a consumer's handler (or with ``concurrency``
1, which has no slots) both do nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar


class Slot:
    """The slot one handler runs in: taken before it starts, given back when it ends."""

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots = slots
        self._waits = 0  # waits under way (a handler's concurrent tasks may each wait)
        self._taking = False
        self._kept = 0  # regions that keep the slot through their waits (``keeping_slot``)
        self.held = False

    async def take(self) -> None:
        """Take the slot, unless held or being taken: one slot per handler, however many
        of its tasks wait."""
        if self.held or self._taking:
            return
        self._taking = True
        try:
            await self._slots.acquire()
            self.held = True
        finally:
            self._taking = False

    def give_back(self) -> None:
        if self.held:
            self.held = False
            self._slots.release()

    @contextlib.contextmanager
    def kept(self) -> Iterator[None]:
        """Waits in the block keep the slot (``keeping_slot``)."""
        self._kept += 1
        try:
            yield
        finally:
            self._kept -= 1

    @contextlib.asynccontextmanager
    async def given_back(self) -> AsyncIterator[None]:
        """Without the slot for the block; with it again (in turn) after. Kept while
        a region holds something other handlers may need (``keeping_slot``)."""
        if self._kept:
            yield
            return
        self._waits += 1
        self.give_back()
        try:
            yield
        finally:
            self._waits -= 1
            if not self._waits:
                await self.take()


_CURRENT: ContextVar[Slot | None] = ContextVar("invoicesync_consumer_slot", default=None)


@contextlib.contextmanager
def running_in(slot: Slot) -> Iterator[None]:
    """The handler called in the block runs in ``slot`` (its tasks see it too)."""
    token = _CURRENT.set(slot)
    try:
        yield
    finally:
        _CURRENT.reset(token)


@contextlib.contextmanager
def keeping_slot() -> Iterator[None]:
    """Waits in the block keep the slot: for a region that holds a database connection
    (a customer's advisory lock) across its remote calls. Given back there, the handler
    would hold the connection while it queues for a slot again, and slot holders queue
    for connections: with more such regions than the pool has connections, neither
    moves. Kept, the region ends when its wait does, as before slots were given back."""
    slot = _CURRENT.get()
    if slot is None:
        yield
        return
    with slot.kept():
        yield


@contextlib.asynccontextmanager
async def without_slot() -> AsyncIterator[None]:
    """Wait inside the block without holding a consumer slot (see the module)."""
    slot = _CURRENT.get()
    if slot is None:
        yield
        return
    async with slot.given_back():
        yield
