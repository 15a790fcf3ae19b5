"""The outbox's commit signal: a committed write of outbox rows wakes the relay at once
(long before its idle poll); a rolled-back one does not, and an idle listener holds no
transaction open."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import cast

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from invoicesync_shared.bus.producer import EventProducer
from invoicesync_shared.db.engine import create_engine, create_sessionmaker
from invoicesync_shared.db.models import OutboxMessage
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.outbox.relay import OutboxRelay
from invoicesync_shared.outbox.signal import CommitSignal
from tests.support.databases import fresh_database
from tests.support.producers import RecordingProducer

BOUND = 30.0  # seconds: a signal that never comes shows as False, not a hang
AGE = "invoicesync_outbox_oldest_age_seconds"


@pytest.fixture(scope="module")
def signal_database(postgres_admin_url: str, database_template: str) -> Iterator[str]:
    with fresh_database(postgres_admin_url, database_template) as url:
        yield url


@pytest.fixture
async def engine(signal_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(SecretStr(signal_database), application_name="test-commit-signal")
    yield engine
    await engine.dispose()


@pytest.fixture
async def signal(engine: AsyncEngine) -> AsyncIterator[CommitSignal]:
    signal = CommitSignal(engine)
    listening = asyncio.create_task(signal.run())
    await asyncio.wait_for(signal.listening.wait(), BOUND)
    await signal.wait(0)  # the start is not a commit
    yield signal
    signal.stop()
    await listening


async def _write(engine: AsyncEngine, *, commit: bool) -> str:
    """One outbox row, committed or rolled back; its event id."""
    envelope = Envelope(type="e", source="/tests", subject="s", key="k", data={})
    async with engine.connect() as connection:
        await connection.execute(
            insert(OutboxMessage).values(
                event_id=uuid.UUID(envelope.id),
                topic="t",
                key="k",
                event_type="e",
                envelope=envelope.to_json(),
            )
        )
        await (connection.commit() if commit else connection.rollback())
    return envelope.id


async def _until(condition: Callable[[], bool]) -> None:
    """Poll what the relay's task changes (the producer's list, a gauge): no event to await."""
    async with asyncio.timeout(BOUND):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_a_committed_outbox_write_wakes_the_waiter(
    engine: AsyncEngine, signal: CommitSignal
) -> None:
    waiting = asyncio.create_task(signal.wait(BOUND))
    await _write(engine, commit=True)
    assert await waiting is True


async def test_a_rolled_back_write_does_not(engine: AsyncEngine, signal: CommitSignal) -> None:
    await _write(engine, commit=False)
    await _write(engine, commit=True)  # a later commit: the one signal there is
    assert await signal.wait(BOUND) is True
    assert await signal.wait(0.5) is False  # the rollback sent nothing of its own


async def test_the_listening_connection_holds_no_transaction(
    engine: AsyncEngine, signal: CommitSignal
) -> None:
    async with engine.connect() as connection:
        states = (
            await connection.scalars(
                text(
                    "SELECT state FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'"
                )
            )
        ).all()
    assert states == ["idle"]


async def test_an_idle_relay_publishes_a_commit_at_once_not_at_its_next_poll(
    engine: AsyncEngine,
) -> None:
    producer = RecordingProducer()
    relay = OutboxRelay(
        create_sessionmaker(engine), cast(EventProducer, producer), idle_interval=3600
    )
    first = await _write(engine, commit=True)
    running = asyncio.create_task(relay.run())
    try:
        # (after what earlier tests of this module left unpublished)
        await _until(lambda: first in [e.id for _, e in producer.published])
        # An empty round after it: the relay shows nothing waiting, then waits idle.
        await _until(lambda: REGISTRY.get_sample_value(AGE) == 0)
        second = await _write(engine, commit=True)
        await _until(lambda: [e.id for _, e in producer.published][-1] == second)
    finally:
        relay.stop()
        await asyncio.wait_for(running, BOUND)
