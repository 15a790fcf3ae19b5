"""Only the holder of a live lease pushes and records; leases live on the database clock."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors import ledger as ledger_module
from invoicesync_shared.connectors.lease import LEASES_LOST
from invoicesync_shared.connectors.ledger import Ledger
from invoicesync_shared.connectors.protocol import Booking, PushContext
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import LedgerEntry
from invoicesync_shared.events.documents import DocumentSnapshot
from invoicesync_shared.events.envelope import Envelope
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

BOOKED = "com.invoicesync.booking.assigned"
FAST = RetryPolicy(attempts=4, initial=0.01, maximum=0.05)
LEASE = timedelta(seconds=3)
SETTLE = timedelta(seconds=0.05)  # the fake shows a booking at once


@dataclass
class FirstPushWaits(FakeConnector):
    """The first push waits for ``slot`` (a rate slot that takes long); later ones don't."""

    slot: asyncio.Event = field(default_factory=asyncio.Event)
    waited: bool = False

    async def push(self, ctx: PushContext, document: DocumentSnapshot) -> Booking:
        if not self.waited:
            self.waited = True
            self.in_push.set()
            await self.slot.wait()
        return await super().push(ctx, document)


async def until_db_time_passes(
    sessionmaker: async_sessionmaker[AsyncSession], document_id: uuid.UUID, after: timedelta
) -> None:
    """Until the database's clock is ``after`` past the document's first claim."""
    while True:
        async with sessionmaker() as session:
            passed = await session.scalar(
                select(func.clock_timestamp() > LedgerEntry.created_at + after).where(
                    LedgerEntry.document_id == document_id
                )
            )
        if passed:
            return
        await asyncio.sleep(0.1)


def replicas(
    sessionmaker: async_sessionmaker[AsyncSession], fake: FakeConnector
) -> tuple[ConnectorRuntime, ConnectorRuntime, RecordingProducer]:
    producer = RecordingProducer()
    first, second = (
        ConnectorRuntime(
            fake,
            sessionmaker=sessionmaker,
            producer=producer,
            retry=FAST,
            lease=LEASE,
            settle=SETTLE,
        )
        for _ in range(2)
    )
    return first, second, producer


async def test_the_heartbeat_keeps_a_lease_through_a_wait_longer_than_the_lease(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    fake = FirstPushWaits()
    first, second, producer = replicas(sessionmaker, fake)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "WAIT-1")
    event = booked_event(document, integration)

    holder = asyncio.create_task(first.handle(event))
    await asyncio.wait_for(fake.in_push.wait(), 10)
    # The first replica's rate-limit wait outlasts its lease twice over…
    await until_db_time_passes(sessionmaker, document.id, 2 * LEASE)
    # …and after a rebalance the second replica gets the same request: it must wait.
    waiter = asyncio.create_task(second.handle(event))
    waited = asyncio.ensure_future(second.lease_waited.wait())
    await asyncio.wait({waiter, waited}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    waited.cancel()
    assert second.lease_waited.is_set(), "the second replica took a live lease"
    assert fake.pushes == 0 and fake.lookups == 0
    fake.slot.set()
    await asyncio.wait_for(asyncio.gather(holder, waiter), 30)
    assert fake.pushes == 1 and len(fake.booked) == 1
    results = producer.of_type(BOOKED)
    assert [r.data["booking_number"] for r in results] == ["1", "1"]
    assert results[0].id == results[1].id  # the same outcome, the same event


async def test_a_holder_whose_lease_lapsed_is_stopped_and_records_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The first replica stalls (its heartbeat could not run): the database says its lease
    lapsed, the second takes over and books. The first is stopped in its wait and neither
    pushes nor reports."""
    fake = FirstPushWaits()
    first, second, producer = replicas(sessionmaker, fake)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "STALL-1")
    event = booked_event(document, integration)
    lost_before = LEASES_LOST.labels("exact")._value.get()

    holder = asyncio.create_task(first.handle(event))
    await asyncio.wait_for(fake.in_push.wait(), 10)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.document_id == document.id)
            .values(lease_expires_at=func.clock_timestamp() - timedelta(seconds=1))
        )
    await asyncio.wait_for(second.handle(event), 30)
    assert fake.lookups >= 1 and len(fake.booked) == 1  # looked up first, then booked once

    await asyncio.wait_for(holder, 10)  # stopped by its heartbeat, its wait never ended
    assert not fake.slot.is_set()
    assert len(fake.booked) == 1
    assert [r.data["booking_number"] for r in producer.of_type(BOOKED)] == ["1"]
    assert LEASES_LOST.labels("exact")._value.get() == lost_before + 1


async def test_an_outcome_is_recorded_only_under_the_live_lease_it_was_claimed_with(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "FENCE-1")
    ledger = Ledger(sessionmaker, "exact")
    key = (integration.id, document.id, 0)

    def result(_: datetime) -> Envelope:
        return booked_event(document, integration)  # any envelope: the ledger stores it

    first = await ledger.claim_attempt(*key, "FENCE-1", lease=LEASE)
    assert first is not None
    assert await ledger.claim_attempt(*key, "FENCE-1", lease=LEASE) is None  # live: refused
    async with sessionmaker.begin() as session:  # lapsed on the database's clock
        await session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.document_id == document.id)
            .values(lease_expires_at=func.clock_timestamp())
        )
    assert not await ledger.renew(first, LEASE)
    assert await ledger.record_outcome(first, state="booked", result=result) is None
    second = await ledger.claim_attempt(*key, "FENCE-1", lease=LEASE)
    assert second is not None and second.token == first.token + 1
    assert await ledger.record_outcome(first, state="booked", result=result) is None
    assert await ledger.record_outcome(second, state="booked", result=result) is not None
    entry = await ledger.find(*key)
    assert entry is not None and entry.state == "booked" and entry.lease_expires_at is None


def skewed_by(skew: timedelta) -> type[datetime]:
    class Skewed(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Skewed:
            real = datetime.now(tz) + skew
            return cls.fromtimestamp(real.timestamp(), tz)

    return Skewed


@pytest.mark.parametrize("skew", [timedelta(minutes=3), timedelta(minutes=-3)])
async def test_a_host_with_a_skewed_clock_takes_no_live_lease(
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    skew: timedelta,
) -> None:
    """One replica's wall clock is minutes off (ahead: it thinks the lease lapsed; behind:
    it writes a lease that looks lapsed to the others). The lease holds either way."""
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "SKEW-1")
    ledger = Ledger(sessionmaker, "exact")
    key = (integration.id, document.id, 0)
    with monkeypatch.context() as skewed:
        if skew < timedelta(0):  # the holder's clock is behind
            skewed.setattr(ledger_module, "datetime", skewed_by(skew))
        assert await ledger.claim_attempt(*key, "SKEW-1", lease=timedelta(seconds=120))
    with monkeypatch.context() as skewed:
        if skew > timedelta(0):  # the taker's clock is ahead
            skewed.setattr(ledger_module, "datetime", skewed_by(skew))
        assert await ledger.claim_attempt(*key, "SKEW-1", lease=timedelta(seconds=120)) is None
