"""No push holds its client's lane without bound: a wait too long for a retry becomes a
deferral, and a push that never ends is stopped at its deadline as an unknown outcome."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.deadline import PushOverdue
from invoicesync_shared.connectors.error_brake import ErrorBudgetSpent
from invoicesync_shared.connectors.errors import TransientError
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime, _overdue_message
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import LedgerEntry
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.states import LedgerState
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

BOOKED, FAILED = "com.invoicesync.booking.assigned", "com.invoicesync.sync.failed"
DEFERRED = "com.invoicesync.sync.deferred"
FAST = RetryPolicy(attempts=4, initial=0.01, maximum=0.05)
SETTLE = timedelta(seconds=0.05)  # the fake shows a booking at once
# Every test here would otherwise wait an hour, or for ever: a failure, not a hang.
BOUND = 20.0


def runtime_with(
    sessionmaker: async_sessionmaker[AsyncSession],
    fake: FakeConnector,
    *,
    deadline: timedelta = timedelta(minutes=15),
) -> tuple[ConnectorRuntime, RecordingProducer]:
    producer = RecordingProducer()
    runtime = ConnectorRuntime(
        fake,
        sessionmaker=sessionmaker,
        producer=producer,
        retry=FAST,
        settle=SETTLE,
        deadline=deadline,
    )
    return runtime, producer


async def push_after(
    sessionmaker: async_sessionmaker[AsyncSession], error: Exception, number: str
) -> tuple[FakeConnector, RecordingProducer, Envelope]:
    """One document pushed once, its first call failing with ``error``."""
    fake = FakeConnector()
    runtime, producer = runtime_with(sessionmaker, fake)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    fake.fail_next(error)
    event = booked_event(snapshot(client, number), integration)
    await asyncio.wait_for(runtime.handle(event), BOUND)
    return fake, producer, event


async def ledger_state(sessionmaker: async_sessionmaker[AsyncSession], event: Envelope) -> str:
    async with sessionmaker() as session:
        state = await session.scalar(
            select(LedgerEntry.state).filter_by(document_id=event.data["document"]["id"])
        )
    return str(state)


async def test_an_hour_long_retry_after_makes_the_document_wait_not_the_lane(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Exact's block after too many errors answers with an hour's Retry-After: slept in
    place, it held every later document of the client for that hour."""
    before = datetime.now(UTC)
    fake, producer, event = await push_after(
        sessionmaker, TransientError("Exact answered 429", retry_after=3600), "H-1"
    )

    (deferred,) = producer.of_type(DEFERRED)
    assert deferred.data["reason"] == "rate_limited"
    waiting_until = datetime.fromisoformat(deferred.data["waiting_until"])
    assert before + timedelta(minutes=59) < waiting_until < before + timedelta(minutes=61)
    assert fake.pushes == 1 and not producer.of_type(FAILED)
    # Nothing was sent: not "attempting", so the next try pushes without a lookup.
    assert await ledger_state(sessionmaker, event) == LedgerState.FAILED
    async with sessionmaker() as session:
        error = await session.scalar(
            select(LedgerEntry.last_error).filter_by(document_id=event.data["document"]["id"])
        )
    assert error == (
        f"rate_limited: exact asked to wait until {waiting_until.isoformat()} (Exact answered 429)."
    )

    runtime, producer = runtime_with(sessionmaker, fake)
    await asyncio.wait_for(runtime.handle(event), BOUND)
    assert fake.pushes == 2 and fake.lookups == 0 and len(producer.of_type(BOOKED)) == 1


async def test_our_own_error_brake_makes_the_document_wait_as_error_limit(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    spent = ErrorBudgetSpent("held back: 8 errors within the hour", retry_after=1800)
    _, producer, _ = await push_after(sessionmaker, spent, "B-1")

    (deferred,) = producer.of_type(DEFERRED)
    assert deferred.data["reason"] == "error_limit"


async def test_a_short_retry_after_is_still_waited_for_in_place(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    fake, producer, _ = await push_after(
        sessionmaker, TransientError("Exact rate limit reached", retry_after=0.05), "S-1"
    )

    assert fake.pushes == 2 and len(producer.of_type(BOOKED)) == 1
    assert not producer.of_type(DEFERRED)


async def test_a_push_that_never_ends_is_stopped_at_its_deadline_and_looked_up_next(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A call that never returns (here: the system never answers, and nothing times it
    out) kept its lease alive through the heartbeat and its client's documents waiting
    behind it. Stopped at the deadline, it is an unknown outcome: failed, retryable,
    said where it hung, and the next try looks the document up before sending."""
    gate = asyncio.Event()
    fake = FakeConnector(gate=gate)
    runtime, producer = runtime_with(sessionmaker, fake, deadline=timedelta(seconds=0.5))
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    event = booked_event(snapshot(client, "D-1"), integration)

    with structlog.testing.capture_logs() as logs:
        await asyncio.wait_for(runtime.handle(event), BOUND)

    (failed,) = producer.of_type(FAILED)
    assert failed.data["code"] == "outcome_unknown" and failed.data["retryable"] is True
    # Parked for a replay too, with what it was waiting for when it was stopped.
    assert failed.data["dead_lettered"] is True
    ((_, parked),) = [(t, e) for t, e in producer.published if t == "invoicesync.dead-letter.exact"]
    assert parked.data["dead_letter_reason"] == "no outcome within 0 s"
    assert failed.data["message"] == (
        "Sending to exact did not finish within 1 minute and was stopped; it is looked up "
        "there before it is sent again."
    )
    assert await ledger_state(sessionmaker, event) == LedgerState.ATTEMPTING
    (overdue,) = [entry for entry in logs if entry["event"] == "push overdue; stopped"]
    assert any("FakeConnector.push" in frame for frame in overdue["awaiting"])
    assert (overdue["log_level"], overdue["seconds"]) == ("error", 0.5)  # how long it ran

    gate.set()  # the system answers again
    await asyncio.wait_for(runtime.handle(event), BOUND)
    assert fake.lookups >= 1 and len(fake.booked) == 1
    (booked,) = producer.of_type(BOOKED)
    assert booked.data["adopted"] is False


@pytest.mark.parametrize(
    ("deadline", "span"),
    [
        (timedelta(seconds=20), "1 minute"),  # never "0 minutes"
        (timedelta(minutes=30), "30 minutes"),  # INVOICESYNC_PUSH_DEADLINE_SECONDS' default
        (timedelta(minutes=45), "45 minutes"),
        (timedelta(hours=1), "60 minutes"),
    ],
)
def test_an_overdue_push_is_reported_with_its_deadline_in_whole_minutes(
    deadline: timedelta, span: str
) -> None:
    """What the user reads when a push is stopped (the test before reaches it with a
    deadline short enough to wait for; these are the deadlines an operator sets)."""
    overdue = PushOverdue(deadline.total_seconds(), awaiting=[])
    assert _overdue_message("yuki", overdue) == (
        f"Sending to yuki did not finish within {span} and was stopped; it is looked up "
        "there before it is sent again."
    )
