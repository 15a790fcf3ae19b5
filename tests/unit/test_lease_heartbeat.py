"""The heartbeat stops a push in time when the lease cannot be renewed (the database away
or slow): it never runs on past the lease it was given."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection
from datetime import timedelta

import pytest

from invoicesync_shared.connectors.lease import LeaseKeeper, LeaseLost, while_holding
from invoicesync_shared.connectors.ledger import Claim, Renewal

LEASE = timedelta(seconds=0.6)


class FakeLedger:
    """Answers renewals as told: ``renew`` False finds every lease taken; ``error`` is
    raised instead of answering."""

    def __init__(self, *, renew: bool = True, error: Exception | None = None) -> None:
        self.renew, self.error = renew, error
        self.rounds: list[int] = []  # the number of claims in each round

    async def renew_all(self, claims: Collection[Claim], lease: timedelta) -> Renewal:
        self.rounds.append(len(claims))
        if self.error is not None:
            raise self.error
        mine = frozenset((claim.key, claim.token) for claim in claims)
        return Renewal(mine if self.renew else frozenset(), frozenset())


def a_claim() -> Claim:
    held_until = asyncio.get_running_loop().time() + LEASE.total_seconds()
    return Claim((uuid.uuid4(), uuid.uuid4(), 0), 1, None, held_until)


async def test_a_push_is_stopped_while_a_third_of_the_lease_is_left() -> None:
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    ledger = FakeLedger(error=ConnectionError("database unreachable"))
    claim = a_claim()

    async def endless_wait() -> None:
        try:
            await asyncio.Event().wait()  # a rate slot that never comes
        finally:
            stopped.set()

    keeper = LeaseKeeper(ledger, LEASE)
    with pytest.raises(LeaseLost):
        await asyncio.wait_for(while_holding(endless_wait(), keeper=keeper, claim=claim), 5)
    assert stopped.is_set() and len(ledger.rounds) >= 1
    assert loop.time() < claim.held_until  # stopped before the lease could lapse


async def test_a_renewal_that_finds_the_lease_taken_stops_the_push() -> None:
    keeper = LeaseKeeper(FakeLedger(renew=False), LEASE)
    with pytest.raises(LeaseLost, match="another attempt took it"):
        await asyncio.wait_for(
            while_holding(asyncio.Event().wait(), keeper=keeper, claim=a_claim()), 5
        )


async def test_renewals_keep_pushes_going_past_their_lease_one_round_for_all() -> None:
    ledger = FakeLedger()
    keeper = LeaseKeeper(ledger, LEASE)

    async def long_wait() -> str:
        await asyncio.sleep(3 * LEASE.total_seconds())  # the slow rate slot itself
        return "pushed"

    results = await asyncio.gather(
        *(while_holding(long_wait(), keeper=keeper, claim=a_claim()) for _ in range(20))
    )
    assert results == ["pushed"] * 20
    assert len(ledger.rounds) >= 3 and ledger.rounds[0] == 20  # all claims in each round
