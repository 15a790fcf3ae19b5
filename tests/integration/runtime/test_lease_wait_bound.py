"""A replica handed a document another replica holds waits for that one's outcome, but
not for ever: three leases on, it leaves the document to the holder, which reports it.
A holder stuck in a long push must not hold the waiter's partition as well."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import LEASE_WAITS, ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

BOOKED = "com.invoicesync.booking.assigned"
FAST = RetryPolicy(attempts=4, initial=0.01, maximum=0.05)
# Three leases are 4.5 s: with a poll a second, the waiter waits at most five times (at 0 s
# to 4 s) and gives up at 5 s; four leases (6 s) would be a sixth wait. A loaded machine
# only delays the polls (fewer waits), and a lease of 1.5 s keeps the holder's renewals
# from lapsing meanwhile.
LEASE = timedelta(seconds=1.5)
MOST_WAITS = 5
GIVE_UP = "another worker still holds this document; it will report"


async def test_a_replica_stops_waiting_for_another_holder_after_three_leases(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    fake, producer = FakeConnector(gate=asyncio.Event()), RecordingProducer()
    holding, waiting = (
        ConnectorRuntime(
            fake, sessionmaker=sessionmaker, producer=producer, retry=FAST, lease=LEASE
        )
        for _ in range(2)
    )
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    event = booked_event(snapshot(client, "STUCK-1"), integration)
    holder = asyncio.create_task(holding.handle(event))
    await asyncio.wait_for(fake.in_push.wait(), 10)  # stuck in its push, its lease renewed

    waits_before = LEASE_WAITS.labels("exact")._value.get()
    with structlog.testing.capture_logs() as logs:
        await asyncio.wait_for(waiting.handle(event), 10)

    assert 1 <= LEASE_WAITS.labels("exact")._value.get() - waits_before <= MOST_WAITS
    assert [line["event"] for line in logs].count(GIVE_UP) == 1
    assert fake.pushes == 1 and not producer.published  # left to the holder, unreported
    assert fake.gate is not None
    fake.gate.set()
    await asyncio.wait_for(holder, 10)
    assert [e.data["booking_number"] for e in producer.of_type(BOOKED)] == ["1"]
