"""A handler's consumer slot, given back while it waits (``bus.slots``): another handler
runs in it meanwhile, and the waiter has it again after, never two."""

from __future__ import annotations

import asyncio

from invoicesync_shared.bus.slots import Slot, keeping_slot, running_in, without_slot


async def test_a_wait_gives_the_slot_to_another_and_takes_it_back() -> None:
    slots = asyncio.Semaphore(1)
    waiting = Slot(slots)
    await waiting.take()
    other_ran = asyncio.Event()

    async def other() -> None:
        async with slots:
            other_ran.set()

    with running_in(waiting):
        async with without_slot():
            await asyncio.gather(other(), asyncio.wait_for(other_ran.wait(), 1))
    assert waiting.held and slots.locked()
    waiting.give_back()
    assert not slots.locked()


async def test_concurrent_waits_of_one_handler_take_one_slot_back() -> None:
    slots = asyncio.Semaphore(2)
    slot = Slot(slots)
    await slot.take()

    async def wait() -> None:
        async with without_slot():
            await asyncio.sleep(0.01)

    with running_in(slot):
        await asyncio.gather(wait(), wait(), wait())
    assert slot.held
    slot.give_back()
    assert slots._value == 2


async def test_outside_a_consumer_a_wait_is_only_a_wait() -> None:
    async with without_slot():
        await asyncio.sleep(0)


async def test_a_region_holding_a_connection_keeps_its_slot_through_waits() -> None:
    """A customer's advisory lock holds a connection: its waits keep the slot, so no
    handler holds a connection while it queues for a slot (slot holders may be queuing
    for that connection)."""
    slots = asyncio.Semaphore(1)
    slot = Slot(slots)
    await slot.take()
    with running_in(slot), keeping_slot():
        async with without_slot():
            assert slot.held and slots.locked()
    async with without_slot():  # outside the handler's context: nothing to give back
        assert slot.held
    slot.give_back()
