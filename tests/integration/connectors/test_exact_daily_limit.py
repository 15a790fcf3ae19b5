"""Exact's calls per day: once a division's day is spent, its documents wait for the reset
(reported as deferred, never a 429) and are booked after it. A sandbox of its own, with a
low daily limit; the shared clock follows its clock across the reset."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import select

from invoicesync_shared import clock
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.models import LedgerEntry
from invoicesync_shared.events.results import BookingAssigned, SyncDeferred, SyncFailed
from invoicesync_shared.states import LedgerState
from tests.integration.connectors.exact_support import Sessions, connect, control, replica

DAY = 86_400


def _retries() -> float:
    sample = REGISTRY.get_sample_value("invoicesync_sync_retries_total", {"system": "exact"})
    return sample or 0.0


async def test_a_spent_day_defers_documents_without_a_429_and_books_them_after_the_reset(
    sandbox_url: str,
    followed: clock.FollowedClock,
    sessionmaker: Sessions,
    secret_box: SecretBox,
) -> None:
    world = await connect(sandbox_url, sessionmaker, secret_box)
    try:
        await world.send(world.document("WARM-1"))  # the customer exists from now on
        used = world.one.sent.calls
        control(sandbox_url, "PUT", "/exact/limits", json={"daily_limit": used + 2})
        documents = [world.document(f"DAY-{n}") for n in range(5)]
        for document in documents:
            await world.send(document)

        assert world.state()["rate_limited"] == 0
        assert world.one.sent.rate_limited == 0
        assert world.results(SyncFailed.TYPE) == []
        assert len(world.results(BookingAssigned.TYPE)) == 3  # WARM-1 and two within the day
        deferred = world.results(SyncDeferred.TYPE)
        assert sorted(d["document_id"] for d in deferred) == sorted(
            str(d.id) for d in documents[2:]
        )
        assert {d["reason"] for d in deferred} == {"daily_limit"}
        [until] = {datetime.fromisoformat(d["waiting_until"]) for d in deferred}
        assert timedelta(hours=23) < until - clock.now() <= timedelta(days=1)
        async with sessionmaker() as session:
            waiting = list(
                await session.scalars(
                    select(LedgerEntry).where(
                        LedgerEntry.document_id.in_([d.id for d in documents[2:]])
                    )
                )
            )
        assert [e.lease_expires_at for e in waiting] == [None] * 3  # nothing left held
        assert {e.state for e in waiting} == {LedgerState.FAILED}  # not sent, no doubt

        # Past the reset, the sandbox and the connector alike; the requests come again.
        seconds = (until - clock.now()).total_seconds() + 60
        advanced = httpx.post(f"{sandbox_url}/_sandbox/clock/advance", json={"seconds": seconds})
        advanced.raise_for_status()
        async with httpx.AsyncClient() as http:
            await followed.sync(http)
        for document in documents[2:]:
            await world.send(document)

        assert world.state()["rate_limited"] == 0
        assert len(world.results(BookingAssigned.TYPE)) == 6
        refs = Counter(e["your_ref"] for e in world.entries())
        assert {d.number: refs[d.number] for d in documents} == dict.fromkeys(
            [d.number for d in documents], 1
        )
    finally:
        await world.close(sessionmaker)


async def test_a_day_spent_by_another_replica_defers_after_its_one_429(
    sandbox_url: str,
    followed: clock.FollowedClock,
    sessionmaker: Sessions,
    secret_box: SecretBox,
) -> None:
    world = await connect(sandbox_url, sessionmaker, secret_box)
    other = replica(sandbox_url, sessionmaker, secret_box)
    world.others.append(other)
    try:
        await world.send(world.document("WARM-2"))  # this replica thinks the day is young
        used = world.one.sent.calls
        control(sandbox_url, "PUT", "/exact/limits", json={"daily_limit": used + 1})
        await world.send(world.document("OTHER-1"), via=other)  # the other spends the rest
        late = world.document("LATE-1")
        retried = _retries()
        await world.send(late)

        # The 429 told the day is spent: the document waits at once, not retried.
        assert world.one.sent.rate_limited == 1
        assert _retries() == retried
        assert world.results(SyncFailed.TYPE) == []
        [deferred] = world.results(SyncDeferred.TYPE)
        assert (deferred["document_id"], deferred["reason"]) == (str(late.id), "daily_limit")
        await world.send(world.document("LATE-2"))  # known spent now: not even called
        assert world.one.sent.rate_limited == 1
        assert world.state()["rate_limited"] == 1
    finally:
        await world.close(sessionmaker)
