"""The runtime books each document once per generation, whatever happens to the answer."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog
from aiokafka import ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.errors import PermanentError, TransientError, UnknownOutcome
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import LedgerEntry
from invoicesync_shared.events.undeliverable import Undeliverable
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

BOOKED, FAILED = "com.invoicesync.booking.assigned", "com.invoicesync.sync.failed"
FAST = RetryPolicy(attempts=4, initial=0.01, maximum=0.05)
SETTLE = timedelta(seconds=0.05)  # the fake shows a booking at once


async def runtime_for(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> tuple[ConnectorRuntime, FakeConnector, RecordingProducer]:
    fake, producer = FakeConnector(), RecordingProducer()
    return (
        ConnectorRuntime(
            fake, sessionmaker=sessionmaker, producer=producer, retry=FAST, settle=SETTLE
        ),
        fake,
        producer,
    )


async def test_redelivered_event_reports_again_without_pushing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    runtime, fake, producer = await runtime_for(sessionmaker)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    event = booked_event(snapshot(client, "R-1"), integration)
    await runtime.handle(event)
    await runtime.handle(event)
    assert fake.pushes == 1
    numbers = [e.data["booking_number"] for e in producer.of_type(BOOKED)]
    assert numbers == ["1", "1"]


async def test_lost_response_is_adopted_by_lookup_not_booked_twice(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    runtime, fake, producer = await runtime_for(sessionmaker)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    fake.fail_next(UnknownOutcome("response lost"), after_commit=True)
    await runtime.handle(booked_event(snapshot(client, "L-1"), integration))
    assert len(fake.booked) == 1
    assert fake.pushes == 1 and fake.lookups == 1
    (result,) = producer.of_type(BOOKED)
    assert result.data["adopted"] is True


async def test_unknown_outcome_that_did_not_commit_is_pushed_again(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    runtime, fake, producer = await runtime_for(sessionmaker)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    fake.fail_next(UnknownOutcome("timeout before commit"))
    await runtime.handle(booked_event(snapshot(client, "U-1"), integration))
    # Pushed again only after a second lookup, a settle time later, confirmed "not found".
    assert fake.pushes == 2 and fake.lookups == 2 and len(fake.booked) == 1
    assert producer.of_type(BOOKED)[0].data["adopted"] is False


async def test_a_lost_answer_whose_lookups_all_failed_is_looked_up_again_on_replay(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The chaos suite's double booking: the push committed but its answer was lost, then
    every lookup met a 429 until the retries ran out. The document is dead-lettered with
    its outcome unknown, so the replay looks it up and adopts it instead of pushing again."""
    runtime, fake, producer = await runtime_for(sessionmaker)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    fake.fail_next(UnknownOutcome("response lost"), after_commit=True)
    fake.lookup_errors.extend(TransientError("429") for _ in range(FAST.attempts - 1))
    event = booked_event(snapshot(client, "LL-1"), integration)

    await runtime.handle(event)
    (failed,) = producer.of_type(FAILED)
    assert failed.data["code"] == "outcome_unknown" and failed.data["dead_lettered"] is True
    assert failed.data["message"] == (
        "exact did not confirm whether the document was booked; it will be looked up before "
        "it is sent again."
    )
    (parked,) = [e for t, e in producer.published if t == "invoicesync.dead-letter.exact"]
    assert parked.data["dead_letter_reason"] == "429"  # the lookup's failure, the last one

    await runtime.handle(event)  # the dead letter replayed
    assert fake.pushes == 1 and fake.lookups == FAST.attempts
    (booked,) = producer.of_type(BOOKED)
    assert booked.data["adopted"] is True


async def test_permanent_error_is_reported_once_and_not_retried(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    runtime, fake, producer = await runtime_for(sessionmaker)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    fake.fail_next(PermanentError("period_locked", "The period is locked."))
    with structlog.testing.capture_logs() as logs:
        await runtime.handle(booked_event(snapshot(client, "P-1"), integration))
    assert fake.pushes == 1
    (said,) = [e for e in logs if e["event"] == "push refused"]
    assert (said["code"], said["in_doubt"], said["log_level"]) == ("period_locked", False, "info")
    (failed,) = producer.of_type(FAILED)
    assert (failed.data["code"], failed.data["retryable"]) == ("period_locked", False)


async def test_transient_errors_are_retried_then_dead_lettered(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    runtime, fake, producer = await runtime_for(sessionmaker)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    fake.fail_next(TransientError("429", retry_after=0.01))
    await runtime.handle(booked_event(snapshot(client, "T-1"), integration))
    assert fake.pushes == 2 and len(producer.of_type(BOOKED)) == 1
    for _ in range(FAST.attempts):
        fake.fail_next(TransientError("503"))
    await runtime.handle(booked_event(snapshot(client, "T-2"), integration))
    (failed,) = producer.of_type(FAILED)
    assert failed.data["code"] == "unavailable" and failed.data["dead_lettered"] is True
    assert failed.data["retryable"] is True  # the bookkeeper may retry it
    assert failed.data["message"] == (
        "exact was not reachable after several attempts (503); retry later."
    )
    (dead,) = [e for t, e in producer.published if t == "invoicesync.dead-letter.exact"]
    assert dead.data["dead_letter_reason"] == "503"  # the last error, for the replay


async def test_a_record_no_handler_reads_is_parked_as_the_documented_undeliverable(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """What the bus cannot read goes to the dead-letter topic in the shape the AsyncAPI
    document gives ``Undeliverable``: the reason and the value as it came."""
    runtime, _, producer = await runtime_for(sessionmaker)
    record: ConsumerRecord[bytes, bytes] = ConsumerRecord(
        "invoicesync.documents", 2, 7, 0, 0, b"client-1", b"not json", None, 8, 8, []
    )
    await runtime.dead_letter_record(record, "not a CloudEvent")
    ((topic, envelope),) = producer.published
    assert (topic, envelope.type) == ("invoicesync.dead-letter.exact", Undeliverable.TYPE)
    assert envelope.subject == "invoicesync.documents/2/7"
    assert envelope.data == {"reason": "not a CloudEvent", "value": "not json"}
    assert set(envelope.data) == set(Undeliverable.model_fields)


async def test_settings_the_connector_cannot_use_fail_the_document_at_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Refused before any call: reported with its code, and the lease is free, so the
    partition does not wait for it to lapse when the same document comes again."""
    runtime, fake, producer = await runtime_for(sessionmaker)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    fake.scope_error = PermanentError("administration_not_found", "No administration is set.")
    event = booked_event(snapshot(client, "S-1"), integration)
    await runtime.handle(event)
    await runtime.handle(event)
    assert [f.data["code"] for f in producer.of_type(FAILED)] == ["administration_not_found"] * 2
    assert fake.pushes == 0 and not runtime.lease_waited.is_set()


async def test_an_unexpected_error_is_reported_and_looked_up_before_the_next_push(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    runtime, fake, producer = await runtime_for(sessionmaker)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    fake.fail_next(KeyError("EntryNumber"), after_commit=True)  # booked, answer unreadable
    event = booked_event(snapshot(client, "X-1"), integration)
    await runtime.handle(event)
    (failed,) = producer.of_type(FAILED)
    assert failed.data["code"] == "internal_error"
    assert failed.data["retryable"] is True and failed.data["dead_lettered"] is True
    assert failed.data["message"] == (
        "invoicesync could not finish sending this document to exact (an internal error, "
        "logged for support). It is looked up there before it is sent again: retry it."
    )
    await runtime.handle(event)  # the retry: found by reference, adopted, not booked again
    assert (fake.pushes, fake.lookups, len(fake.booked)) == (1, 1, 1)
    assert producer.of_type(BOOKED)[0].data["adopted"] is True
    assert not runtime.lease_waited.is_set()


async def test_a_reset_generation_is_pushed_again(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    runtime, fake, _producer = await runtime_for(sessionmaker)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "G-1")
    await runtime.handle(booked_event(document, integration, generation=0))
    # Reset while the remote entry still exists: it is adopted, not booked again.
    await runtime.handle(booked_event(document, integration, generation=1))
    assert (fake.pushes, fake.lookups, len(fake.booked)) == (1, 1, 1)
    # Reset after the remote entry was deleted: booked again, with a new number.
    del fake.booked["G-1"]
    await runtime.handle(booked_event(document, integration, generation=2))
    assert (fake.pushes, fake.lookups, len(fake.booked)) == (2, 2, 1)


async def test_two_replicas_with_one_document_push_it_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A rebalance can hand one document to two replicas at once: the second waits for
    the first's outcome instead of looking up too early and pushing again."""
    fake, producer = FakeConnector(gate=asyncio.Event()), RecordingProducer()
    first = ConnectorRuntime(fake, sessionmaker=sessionmaker, producer=producer, retry=FAST)
    second = ConnectorRuntime(fake, sessionmaker=sessionmaker, producer=producer, retry=FAST)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    event = booked_event(snapshot(client, "TWICE-1"), integration)
    holder = asyncio.create_task(first.handle(event))
    await asyncio.wait_for(fake.in_push.wait(), 10)
    waiter = asyncio.create_task(second.handle(event))
    await asyncio.wait_for(second.lease_waited.wait(), 10)  # blocked on the first's lease
    assert fake.pushes == 1 and fake.lookups == 0
    assert fake.gate is not None
    fake.gate.set()
    await asyncio.wait_for(asyncio.gather(holder, waiter), 30)
    assert fake.pushes == 1 and len(fake.booked) == 1
    assert [e.data["booking_number"] for e in producer.of_type(BOOKED)] == ["1", "1"]


async def test_a_write_in_doubt_keeps_its_lease_while_it_settles(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The settle wait (2 s, then 2 s more to confirm) is longer than the lease (1.5 s):
    the holder renews it while waiting, so a second replica handed the same document
    waits for the outcome instead of taking the attempt over. (Leases long enough that
    renewals do not lapse while another test worker loads the machine.)"""
    lease, settle = timedelta(seconds=1.5), timedelta(seconds=2.0)
    fake, producer = FakeConnector(gate=asyncio.Event()), RecordingProducer()
    first, second = (
        ConnectorRuntime(
            fake,
            sessionmaker=sessionmaker,
            producer=producer,
            retry=FAST,
            lease=lease,
            settle=settle,
        )
        for _ in range(2)
    )
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "SETTLE-1")
    event = booked_event(document, integration)
    fake.fail_next(UnknownOutcome("timeout before commit"))
    holder = asyncio.create_task(first.handle(event))
    await asyncio.wait_for(fake.in_push.wait(), 10)
    assert fake.gate is not None
    fake.gate.set()  # the push fails in doubt: the holder settles, looks up twice, pushes
    await asyncio.wait_for(asyncio.gather(holder, second.handle(event)), 30)

    assert second.lease_waited.is_set()
    assert (fake.pushes, fake.lookups, len(fake.booked)) == (2, 2, 1)
    async with sessionmaker() as session:
        entry = await session.get(LedgerEntry, (integration.id, document.id, 0))
    assert entry is not None and entry.attempts == 1  # never taken over
    assert [e.data["booking_number"] for e in producer.of_type(BOOKED)] == ["1", "1"]
