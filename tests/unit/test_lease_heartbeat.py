"""The heartbeat stops a push in time when the lease cannot be renewed (the database away
or slow): it never runs on past the lease it was given."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from invoicesync_shared.connectors.lease import LeaseLost, while_holding

LEASE = timedelta(seconds=0.6)


async def test_a_push_is_stopped_while_a_third_of_the_lease_is_left() -> None:
    loop = asyncio.get_running_loop()
    held_until = loop.time() + LEASE.total_seconds()
    stopped = asyncio.Event()
    renewals = 0

    async def endless_wait() -> None:
        try:
            await asyncio.Event().wait()  # a rate slot that never comes
        finally:
            stopped.set()

    async def unreachable() -> bool:
        nonlocal renewals
        renewals += 1
        raise ConnectionError("database unreachable")

    with pytest.raises(LeaseLost):
        await asyncio.wait_for(
            while_holding(endless_wait(), renew=unreachable, lease=LEASE, held_until=held_until),
            5,
        )
    assert stopped.is_set() and renewals >= 1
    assert loop.time() < held_until  # stopped before the lease could lapse


async def test_a_renewal_that_finds_the_lease_taken_stops_the_push() -> None:
    loop = asyncio.get_running_loop()

    async def taken() -> bool:
        return False

    with pytest.raises(LeaseLost):
        await asyncio.wait_for(
            while_holding(
                asyncio.Event().wait(),
                renew=taken,
                lease=LEASE,
                held_until=loop.time() + LEASE.total_seconds(),
            ),
            5,
        )


async def test_renewals_keep_a_push_going_past_its_lease() -> None:
    loop = asyncio.get_running_loop()
    renewals = 0

    async def renewed() -> bool:
        nonlocal renewals
        renewals += 1
        return True

    async def long_wait() -> str:
        await asyncio.sleep(3 * LEASE.total_seconds())  # the slow rate slot itself
        return "pushed"

    result = await while_holding(
        long_wait(), renew=renewed, lease=LEASE, held_until=loop.time() + LEASE.total_seconds()
    )
    assert result == "pushed" and renewals >= 3
