"""A short Retry-After is waited for in place, and never cut short: the system refuses a
call that comes earlier (and an early call spends the budget the wait was for)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.errors import TransientError
from invoicesync_shared.connectors.protocol import Booking, PushContext
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.events.documents import DocumentSnapshot
from invoicesync_shared.integration_settings import SettingsModel
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

BOOKED = "com.invoicesync.booking.assigned"
# Backoff alone would retry within 0.05 s: only the Retry-After makes it wait longer.
FAST = RetryPolicy(attempts=4, initial=0.01, maximum=0.05)
RETRY_AFTER = 0.3


@dataclass
class Timed(FakeConnector):
    """The fake, noting when each push came (monotonic seconds)."""

    pushed_at: list[float] = field(default_factory=list)

    async def push(self, ctx: PushContext[SettingsModel], document: DocumentSnapshot) -> Booking:
        self.pushed_at.append(time.monotonic())
        return await super().push(ctx, document)


async def test_the_retry_comes_no_sooner_than_the_retry_after(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    fake, producer = Timed(), RecordingProducer()
    runtime = ConnectorRuntime(
        fake,
        sessionmaker=sessionmaker,
        producer=producer,
        retry=FAST,
        settle=timedelta(seconds=0.05),
    )
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    fake.fail_next(TransientError("Exact answered 429", retry_after=RETRY_AFTER))

    await runtime.handle(booked_event(snapshot(client, "WAIT-1"), integration))

    first, second = fake.pushed_at
    assert second - first >= RETRY_AFTER
    assert len(producer.of_type(BOOKED)) == 1
