"""A write in doubt is looked up only after the settle time, and "not found" is believed
only when a second lookup, a settle time later, agrees."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared import clock
from invoicesync_shared.connectors.errors import Deferred, UnknownOutcome
from invoicesync_shared.connectors.protocol import Booking, PushContext
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import SETTLE_WAITS, ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.events.documents import DocumentSnapshot
from invoicesync_shared.integration_settings import SettingsModel
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

BOOKED, DEFERRED = "com.invoicesync.booking.assigned", "com.invoicesync.sync.deferred"
FAST = RetryPolicy(attempts=4, initial=0.01, maximum=0.05)


@dataclass
class Timed(FakeConnector):
    """The fake, keeping when each call ended (pushes) or began (lookups), on the loop's
    clock, and the document each lookup was asked for."""

    pushed_at: list[float] = field(default_factory=list)
    looked_up: list[tuple[float, DocumentSnapshot]] = field(default_factory=list)

    async def push(self, ctx: PushContext[SettingsModel], document: DocumentSnapshot) -> Booking:
        try:
            return await super().push(ctx, document)
        finally:
            self.pushed_at.append(asyncio.get_running_loop().time())

    async def find_by_reference(
        self, ctx: PushContext[SettingsModel], document: DocumentSnapshot
    ) -> Booking | None:
        self.looked_up.append((asyncio.get_running_loop().time(), document))
        return await super().find_by_reference(ctx, document)


async def test_a_write_in_doubt_is_looked_up_a_settle_time_later_and_again_before_a_push(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    settle = 0.3
    fake, producer = Timed(), RecordingProducer()
    runtime = ConnectorRuntime(
        fake,
        sessionmaker=sessionmaker,
        producer=producer,
        retry=FAST,
        settle=timedelta(seconds=settle),
    )
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "SET-1")
    waits = SETTLE_WAITS.labels("exact")._value.get()
    fake.fail_next(UnknownOutcome("timeout before commit"))

    await runtime.handle(booked_event(document, integration))

    assert (fake.pushes, len(fake.booked)) == (2, 1)
    (failed_at, _), ((first, asked), (second, again)) = fake.pushed_at, fake.looked_up
    assert first - failed_at >= settle and second - first >= settle
    assert asked == again == document
    assert SETTLE_WAITS.labels("exact")._value.get() == waits + 1
    assert producer.of_type(BOOKED)[0].data["adopted"] is False


async def test_without_a_settle_time_one_lookup_decides(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    fake, producer = Timed(), RecordingProducer()
    runtime = ConnectorRuntime(
        fake, sessionmaker=sessionmaker, producer=producer, retry=FAST, settle=timedelta(0)
    )
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "SET-2")
    fake.fail_next(UnknownOutcome("timeout before commit"))

    await runtime.handle(booked_event(document, integration))

    assert (fake.pushes, fake.lookups, len(fake.booked)) == (2, 1, 1)
    ((_, asked),) = fake.looked_up
    assert asked == document


async def test_a_deferral_met_while_a_write_is_in_doubt_keeps_it_in_doubt(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The answer was lost, and the lookup after it met a spent budget: the document waits,
    still in doubt, so the next try looks it up and adopts it instead of booking it again."""
    fake, producer = Timed(), RecordingProducer()
    runtime = ConnectorRuntime(
        fake, sessionmaker=sessionmaker, producer=producer, retry=FAST, settle=timedelta(0)
    )
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "SET-3")
    event = booked_event(document, integration)
    fake.fail_next(UnknownOutcome("response lost"), after_commit=True)
    until = clock.now() + timedelta(hours=1)
    fake.lookup_errors.append(
        Deferred("the day's calls are spent", until=until, reason="daily_limit")
    )

    await runtime.handle(event)
    (deferred,) = producer.of_type(DEFERRED)
    assert deferred.data["reason"] == "daily_limit"
    entry = await runtime.ledger.find(integration.id, document.id, 0)
    assert entry is not None and entry.state == "attempting"

    await runtime.handle(event)
    assert (fake.pushes, len(fake.booked)) == (1, 1)
    (booked,) = producer.of_type(BOOKED)
    assert booked.data["adopted"] is True


@dataclass
class Lagging(FakeConnector):
    """The fake whose list shows nothing before ``shows_from`` on the loop's clock (a
    lagging list or replica)."""

    shows_from: float = 0.0

    async def find_by_reference(
        self, ctx: PushContext[SettingsModel], document: DocumentSnapshot
    ) -> Booking | None:
        if asyncio.get_running_loop().time() < self.shows_from:
            self.lookups += 1
            return None
        return await super().find_by_reference(ctx, document)


async def test_a_retry_of_an_attempt_left_in_doubt_waits_for_a_lagging_list_before_pushing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The first attempt booked the document but its answer could not be read (left in
    doubt, "attempting"). Its retry comes while the system's list does not show the
    booking yet: the retry gives the write the settle time to show and adopts it, instead
    of reading "not found" at once and booking the document a second time."""
    fake, producer = Lagging(), RecordingProducer()
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    event = booked_event(snapshot(client, "SET-4"), integration)
    fake.fail_next(KeyError("EntryNumber"), after_commit=True)  # booked, answer unreadable
    first = ConnectorRuntime(
        fake, sessionmaker=sessionmaker, producer=producer, retry=FAST, settle=timedelta(0)
    )
    await first.handle(event)
    assert fake.pushes == 1 and fake.lookups == 0

    retry = ConnectorRuntime(
        fake,
        sessionmaker=sessionmaker,
        producer=producer,
        retry=FAST,
        settle=timedelta(seconds=0.5),
    )
    fake.shows_from = asyncio.get_running_loop().time() + 0.3
    await retry.handle(event)

    assert fake.pushes == 1, "booked a second time"
    (booked,) = producer.of_type(BOOKED)
    assert booked.data["adopted"] is True
