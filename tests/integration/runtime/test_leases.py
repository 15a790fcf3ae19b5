"""Only the holder of a live lease pushes and records; leases live on the database clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

import pytest
import structlog
from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from invoicesync_shared.connectors import ledger as ledger_module
from invoicesync_shared.connectors.lease import LEASES_LOST, LeaseKeeper, LeaseLost
from invoicesync_shared.connectors.ledger import Claim, Ledger, Renewal
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


@dataclass
class AllWait(FakeConnector):
    """Every push waits at the gate; ``all_in`` is set once ``expected`` are waiting."""

    expected: int = 0
    all_in: asyncio.Event = field(default_factory=asyncio.Event)

    async def push(self, ctx: PushContext, document: DocumentSnapshot) -> Booking:
        if self.pushes + 1 == self.expected:
            self.all_in.set()
        return await super().push(ctx, document)


@pytest.fixture
def renewals(engine: AsyncEngine) -> Iterator[list[str]]:
    """The lease renewals sent to the database (statements that set the lease alone)."""
    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().startswith("UPDATE connector_ledger SET lease_expires_at="):
            sent.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    yield sent
    event.remove(engine.sync_engine, "before_cursor_execute", seen)


async def test_one_statement_a_round_keeps_every_lease_and_a_takeover_stops_only_its_push(
    sessionmaker: async_sessionmaker[AsyncSession], renewals: list[str]
) -> None:
    """Fifty pushes wait at once (a Yuki batch in flight): the runtime's heartbeat renews
    them together, one statement a round, not one per document. One document is taken
    by another attempt meanwhile: only its push stops, the others go on and book."""
    count = 50
    gate = asyncio.Event()
    fake = AllWait(gate=gate, expected=count)
    runtime, _, producer = replicas(sessionmaker, fake)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    documents = [snapshot(client, f"MANY-{i}") for i in range(count)]
    tasks = {
        document.id: asyncio.create_task(runtime.handle(booked_event(document, integration)))
        for document in documents
    }
    await asyncio.wait_for(fake.all_in.wait(), 30)
    renewals.clear()
    # Twice the lease from the first claim: unrenewed, every lease would have lapsed.
    await until_db_time_passes(sessionmaker, documents[0].id, 2 * LEASE)
    rounds = len(renewals)
    ids = [document.id for document in documents]
    async with sessionmaker() as session:
        live = await session.scalar(
            select(func.count()).where(
                LedgerEntry.document_id.in_(ids),
                LedgerEntry.lease_expires_at > func.clock_timestamp(),
            )
        )
    assert live == count, "a lease lapsed while its push waited"
    # A round every third of the lease (about six in the wait), never one per document.
    assert 1 <= rounds <= 9, f"{rounds} renewal statements for {count} leases"

    victim = documents[7].id
    lost_before = LEASES_LOST.labels("exact")._value.get()
    async with sessionmaker.begin() as session:  # another attempt takes the document
        await session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.document_id == victim)
            .values(attempts=LedgerEntry.attempts + 1)
        )
    with structlog.testing.capture_logs() as logs:
        await asyncio.wait_for(tasks.pop(victim), 10)  # stopped at the next round
    assert LEASES_LOST.labels("exact")._value.get() == lost_before + 1
    (lost,) = [entry for entry in logs if entry["event"].startswith("lease lost")]
    # Found by the round (not given up later for want of a renewal).
    assert lost["document_id"] == str(victim)
    assert lost["reason"] == "the lease lapsed or another attempt took it"
    assert not any(task.done() for task in tasks.values()), "the others must go on"

    gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks.values()), 30)
    assert len(fake.booked) == count - 1 and "MANY-7" not in fake.booked
    booked = {r.data["document_id"] for r in producer.of_type(BOOKED)}
    assert booked == {str(i) for i in ids if i != victim}
    assert LEASES_LOST.labels("exact")._value.get() == lost_before + 1


async def test_a_row_busy_in_another_transaction_costs_no_other_push_its_lease(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Another transaction keeps one ledger row locked across the rounds until its lease
    is past saving: that push stops, the round renews the nine others without waiting for
    the lock. (Waiting for it, the whole round timed out and every push lost its lease.)"""
    count = 10
    gate = asyncio.Event()
    fake = AllWait(gate=gate, expected=count)
    runtime, _, producer = replicas(sessionmaker, fake)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    documents = [snapshot(client, f"BUSY-{i}") for i in range(count)]
    tasks = {
        document.id: asyncio.create_task(runtime.handle(booked_event(document, integration)))
        for document in documents
    }
    await asyncio.wait_for(fake.all_in.wait(), 30)
    busy = documents[3].id
    lost_before = LEASES_LOST.labels("exact")._value.get()
    async with sessionmaker.begin() as session:
        await session.execute(
            select(LedgerEntry).where(LedgerEntry.document_id == busy).with_for_update()
        )
        await asyncio.wait_for(tasks.pop(busy), 3 * LEASE.total_seconds())  # given up
    assert LEASES_LOST.labels("exact")._value.get() == lost_before + 1
    await until_db_time_passes(sessionmaker, documents[0].id, 2 * LEASE)
    assert not any(task.done() for task in tasks.values()), "the others must keep their leases"
    gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks.values()), 30)
    assert LEASES_LOST.labels("exact")._value.get() == lost_before + 1
    assert {r.data["document_id"] for r in producer.of_type(BOOKED)} == {
        str(d.id) for d in documents if d.id != busy
    }


class UnreachableLedger(Ledger):
    """The database does not answer renewals (away, or its pool exhausted)."""

    calls = 0

    async def renew_all(self, claims: Collection[Claim], lease: timedelta) -> Renewal:
        self.calls += 1
        raise ConnectionError("the database is away")


async def test_renewals_that_keep_failing_are_retried_then_stop_the_push_before_the_lease_lapses(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "AWAY-1")
    ledger = UnreachableLedger(sessionmaker, "exact")
    claim = await ledger.claim_attempt(integration.id, document.id, 0, "AWAY-1", lease=LEASE)
    assert claim is not None
    keeper = LeaseKeeper(ledger, LEASE)
    never = asyncio.Event()
    with pytest.raises(LeaseLost, match="could not be renewed in time"):
        await asyncio.wait_for(keeper.while_holding(never.wait(), claim), 10)
    # A third of the lease was kept in hand: the lease still holds on the database's clock
    # when the push is stopped, so no other attempt can have started meanwhile.
    async with sessionmaker() as session:
        held = await session.scalar(
            select(LedgerEntry.lease_expires_at > func.clock_timestamp()).where(
                LedgerEntry.document_id == document.id
            )
        )
    assert held
    assert ledger.calls >= 3, "a failed round is retried sooner than the next round"
