"""A result is recorded with its outcome, reaches the API even if its publish is lost, and
the same outcome is always the same event."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.errors import AuthorizationLost, PermanentError, UnknownOutcome
from invoicesync_shared.connectors.lease import LEASES_LOST
from invoicesync_shared.connectors.protocol import Booking, PushContext
from invoicesync_shared.connectors.result_relay import ResultRelay
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import (
    OUTCOMES,
    REPORT_LOSS_AGAIN_AFTER,
    ConnectorRuntime,
)
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import Integration, LedgerEntry
from invoicesync_shared.events import topics
from invoicesync_shared.events.documents import DocumentSnapshot, InvoiceBooked, SyncTarget
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.events.integrations import IntegrationConnectionLost
from invoicesync_shared.integration_settings import SettingsModel
from tests.support.clocks import held_at
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

BOOKED, FAILED = "com.invoicesync.booking.assigned", "com.invoicesync.sync.failed"
FAST = RetryPolicy(attempts=4, initial=0.01, maximum=0.05)
SETTLE = timedelta(seconds=0.05)  # the fake shows a booking at once


class CrashingProducer(RecordingProducer):
    """Loses the next ``crashes`` results: the process died right after the commit."""

    def __init__(self, crashes: int) -> None:
        super().__init__()
        self.crashes = crashes

    async def publish(self, topic: str, envelope: Envelope) -> None:
        if topic == topics.SYNC_RESULTS and self.crashes:
            self.crashes -= 1
            raise ConnectionError("the process died before the publish")
        await super().publish(topic, envelope)

    async def publish_many(self, messages: Sequence[tuple[str, Envelope]]) -> None:
        for topic, envelope in messages:
            await self.publish(topic, envelope)


def runtime_for(
    sessionmaker: async_sessionmaker[AsyncSession], producer: RecordingProducer
) -> tuple[ConnectorRuntime, FakeConnector]:
    fake = FakeConnector()
    return ConnectorRuntime(fake, sessionmaker=sessionmaker, producer=producer, retry=FAST), fake


async def test_a_redelivered_request_reports_the_same_event(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    producer = RecordingProducer()
    runtime, _ = runtime_for(sessionmaker, producer)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "SAME-1")
    event = booked_event(document, integration)
    await runtime.handle(event)
    await runtime.handle(event)
    first, again = producer.of_type(BOOKED)
    assert first.id == again.id and first.data == again.data
    entry = await runtime.ledger.find(integration.id, document.id, 0)
    assert entry is not None and entry.result_event is not None
    assert entry.result_event["id"] == first.id and entry.result_published_at is not None
    assert first.data["sent_at"] == entry.result_event["data"]["sent_at"]
    assert entry.sent_at is not None and entry.sent_at.year >= 2026  # not a lease marker

    # Another sync run asking for the same document is answered with its own event.
    run = uuid.uuid4()
    rerun = InvoiceBooked(document=document, targets=[target(integration)], sync_run_id=run)
    await runtime.handle(Envelope.wrap(rerun, source="/tests", subject="s", key="k"))
    answer = producer.of_type(BOOKED)[-1]
    assert answer.data["sync_run_id"] == str(run) and answer.id != first.id


async def test_a_request_after_retention_dropped_the_stored_event_gets_the_same_event(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Retention empties a published entry's ``result_event`` after the ledger window; a
    late request is still answered with the booking, under the same event id."""
    producer = RecordingProducer()
    runtime, fake = runtime_for(sessionmaker, producer)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "DROPPED-1")
    event = booked_event(document, integration)
    await runtime.handle(event)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.document_id == document.id)
            .values(result_event=None)
        )
    pushes = fake.pushes

    await runtime.handle(event)

    first, again = producer.of_type(BOOKED)
    assert again.id == first.id and fake.pushes == pushes  # nothing pushed again
    assert again.data["booking_number"] == first.data["booking_number"]
    assert again.data["remote_id"] == first.data["remote_id"]
    assert again.data["sent_at"] == first.data["sent_at"]


async def test_a_new_failure_is_a_new_event_and_a_repeated_one_is_not(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    producer = RecordingProducer()
    runtime, fake = runtime_for(sessionmaker, producer)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    event = booked_event(snapshot(client, "FAIL-1"), integration)
    for _ in range(2):  # refused twice: two attempts, two failures
        fake.fail_next(PermanentError("period_locked", "The period is locked."))
        await runtime.handle(event)
    await set_status(sessionmaker, integration, "pending_authorization")
    await runtime.handle(event)
    await runtime.handle(event)  # redelivered while the integration is still not active
    ids = [f.id for f in producer.of_type(FAILED)]
    assert len(ids) == 4 and len(set(ids[:2])) == 2 and ids[2] == ids[3]


async def test_a_result_whose_publish_was_lost_is_published_by_the_relay(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    producer = CrashingProducer(crashes=1)
    runtime, _ = runtime_for(sessionmaker, producer)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "CRASH-1")
    await runtime.handle(booked_event(document, integration))
    assert producer.of_type(BOOKED) == []  # recorded, never published

    relay = ResultRelay(runtime.ledger, producer, system="exact", grace=timedelta(0))
    assert await relay.relay_once() >= 1  # other tests' leftovers in this database too
    (published,) = about(producer, document.id)
    entry = await runtime.ledger.find(integration.id, document.id, 0)
    assert entry is not None and entry.result_event is not None
    assert published.id == entry.result_event["id"]
    assert published.data["booking_number"] == entry.booking_number == "1"
    assert entry.result_published_at is not None
    assert await relay.relay_once() == 0  # marked published: once is enough

    # A redelivery of the request reports the very same event (the API applies it once).
    await runtime.handle(booked_event(document, integration))
    assert [e.id for e in about(producer, document.id)] == [published.id, published.id]


async def test_a_fresh_result_is_left_to_the_runtime_for_a_grace_period(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    producer = CrashingProducer(crashes=1)
    runtime, _ = runtime_for(sessionmaker, producer)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "FRESH-1")
    await runtime.handle(booked_event(document, integration))
    relay = ResultRelay(runtime.ledger, producer, system="exact", grace=timedelta(minutes=5))
    await relay.relay_once()
    assert about(producer, document.id) == []


async def test_a_booked_document_of_an_integration_in_error_is_reported_booked(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Redelivered after the integration went to ``error``: the document stays booked,
    the answer is the booking (the same event as before), never ``integration_inactive``."""
    producer = RecordingProducer()
    runtime, fake = runtime_for(sessionmaker, producer)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    event = booked_event(snapshot(client, "ERR-1"), integration)
    await runtime.handle(event)
    await set_status(sessionmaker, integration, "error")
    await runtime.handle(event)
    assert producer.of_type(FAILED) == []
    first, again = producer.of_type(BOOKED)
    assert first.id == again.id and fake.pushes == 1


async def test_a_paused_integration_leaves_its_documents_pending_until_resumed(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The API paused it (the failure brake): nothing is sent and nothing reported (the
    document stays pending in the API); asked again after the resume, it is pushed once."""
    producer = RecordingProducer()
    runtime, fake = runtime_for(sessionmaker, producer)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    event = booked_event(snapshot(client, "PAUSED-1"), integration)
    await set_status(sessionmaker, integration, "paused")
    await runtime.handle(event)
    assert (fake.pushes, producer.of_type(FAILED), producer.of_type(BOOKED)) == (0, [], [])
    await set_status(sessionmaker, integration, "active")
    await runtime.handle(event)
    await runtime.handle(event)  # the resume's request and the old one: pushed once
    assert fake.pushes == 1 and len({e.id for e in producer.of_type(BOOKED)}) == 1


def about(producer: RecordingProducer, document_id: uuid.UUID) -> list[Envelope]:
    """The bookings published for one document (the database is shared by the tests)."""
    return [e for e in producer.of_type(BOOKED) if e.subject == str(document_id)]


def target(integration: Integration) -> SyncTarget:
    return SyncTarget(integration_id=integration.id, system=integration.system, generation=0)


async def set_status(
    sessionmaker: async_sessionmaker[AsyncSession], integration: Integration, status: str
) -> None:
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Integration)
            .where(Integration.id == integration.id)
            .values(status=status, status_reason="Exact refused the token.")
        )


async def test_a_refused_grant_is_reported_once_however_many_documents_meet_it(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Every waiting document of the integration meets the same refusal; the API needs
    one report per grant, not hundreds on its results topic."""
    producer = RecordingProducer()
    runtime, fake = runtime_for(sessionmaker, producer)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    issued = datetime(2026, 12, 1, tzinfo=UTC)
    for _ in range(3):
        fake.fail_next(AuthorizationLost("refused", credentials_issued_at=issued))
    for number in ("LOST-1", "LOST-2", "LOST-3"):
        await runtime.handle(booked_event(snapshot(client, number), integration))
    lost = producer.of_type(IntegrationConnectionLost.TYPE)
    assert len(lost) == 1 and lost[0].subject == str(integration.id)

    # A new grant refused again (after a reconnect) is news again.
    fake.fail_next(AuthorizationLost("refused", credentials_issued_at=issued + timedelta(1)))
    await runtime.handle(booked_event(snapshot(client, "LOST-4"), integration))
    assert len(producer.of_type(IntegrationConnectionLost.TYPE)) == 2


async def test_a_refusal_still_met_a_while_later_is_reported_again(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The chaos run's broker lost the only report before the API read it: the integration
    stayed "active", its documents pending for ever, and nobody was told to reconnect.
    Again once ``REPORT_LOSS_AGAIN_AFTER`` has passed: at that very moment, not after it."""
    producer = RecordingProducer()
    runtime, fake = runtime_for(sessionmaker, producer)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    issued = datetime(2026, 12, 1, tzinfo=UTC)
    with held_at(datetime.now(UTC)) as held:
        for number in ("AGAIN-1", "AGAIN-2"):
            fake.fail_next(AuthorizationLost("refused", credentials_issued_at=issued))
            await runtime.handle(booked_event(snapshot(client, number), integration))
        assert len(producer.of_type(IntegrationConnectionLost.TYPE)) == 1

        held.at += REPORT_LOSS_AGAIN_AFTER  # the sweeper asks again: still refused
        fake.fail_next(AuthorizationLost("refused", credentials_issued_at=issued))
        await runtime.handle(booked_event(snapshot(client, "AGAIN-1"), integration))
    assert len(producer.of_type(IntegrationConnectionLost.TYPE)) == 2


async def test_a_loss_after_the_connection_was_back_is_news_with_the_same_credentials(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A Yuki key has no issue time and an administration given back keeps its key: once
    a push went through, or the integration was seen waiting for the reconnect, the next
    loss is reported again instead of being taken for the one already heard."""
    producer = RecordingProducer()
    runtime, fake = runtime_for(sessionmaker, producer)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)

    def reports() -> int:
        return len(producer.of_type(IntegrationConnectionLost.TYPE))

    async def send(number: str) -> None:
        await runtime.handle(booked_event(snapshot(client, number), integration))

    fake.fail_next(AuthorizationLost("withdrawn", reason="administration_access_withdrawn"))
    await send("BACK-1")
    assert reports() == 1

    await send("BACK-2")  # it went through: connected again
    fake.fail_next(AuthorizationLost("withdrawn", reason="administration_access_withdrawn"))
    await send("BACK-3")
    assert reports() == 2

    await set_status(sessionmaker, integration, "needs_reauthorization")
    await send("BACK-4")  # waits, unsent: the API has heard
    await set_status(sessionmaker, integration, "active")
    fake.fail_next(AuthorizationLost("withdrawn", reason="administration_access_withdrawn"))
    await send("BACK-5")
    assert reports() == 3


async def test_a_refused_call_leaves_nothing_to_look_up_unless_an_earlier_write_is_in_doubt(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A refused grant wrote nothing: after the reconnect the document is pushed at once,
    not held a settle time and looked up twice (hundreds of documents waited 6 s each).
    A write lost before the refusal still is looked up."""
    producer, fake = RecordingProducer(), FakeConnector()
    runtime = ConnectorRuntime(
        fake, sessionmaker=sessionmaker, producer=producer, retry=FAST, settle=SETTLE
    )
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    clean, doubtful = snapshot(client, "REF-1"), snapshot(client, "REF-2")
    lost = LEASES_LOST.labels("exact")._value.get()
    losses = OUTCOMES.labels("exact", "connection_lost")._value.get()

    fake.fail_next(AuthorizationLost("refused"))
    await runtime.handle(booked_event(clean, integration))
    entry = await runtime.ledger.find(integration.id, clean.id, 0)
    assert entry is not None and entry.last_error == "needs_reauthorization: refused"
    assert LEASES_LOST.labels("exact")._value.get() == lost  # released under its lease
    assert OUTCOMES.labels("exact", "connection_lost")._value.get() == losses + 1
    fake.fail_next(UnknownOutcome("no answer"), after_commit=True)
    fake.lookup_errors.append(AuthorizationLost("refused"))  # the lookup after it
    await runtime.handle(booked_event(doubtful, integration))
    states = {
        d.number: entry.state
        for d in (clean, doubtful)
        if (entry := await runtime.ledger.find(integration.id, d.id, 0)) is not None
    }
    assert states == {"REF-1": "failed", "REF-2": "attempting"}

    lookups = fake.lookups
    await runtime.handle(booked_event(clean, integration))
    assert fake.lookups == lookups  # pushed straight away
    await runtime.handle(booked_event(doubtful, integration))
    assert fake.lookups > lookups  # found, not booked twice
    assert sorted(fake.booked) == ["REF-1", "REF-2"]


async def test_a_lookup_refused_after_a_lost_answer_leaves_the_document_in_doubt(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A refusal met while an earlier write is in doubt (the lookup's own call refused, or
    a lookup that adopted and could not finish): the document may exist remotely, so it is
    an unknown outcome (retryable, not settled: a later answer still counts), the refusal
    named in its message, and the next try looks it up and never books it twice."""
    producer, fake = RecordingProducer(), FakeConnector()
    runtime = ConnectorRuntime(
        fake, sessionmaker=sessionmaker, producer=producer, retry=FAST, settle=SETTLE
    )
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "REF-3")

    fake.fail_next(UnknownOutcome("no answer"), after_commit=True)
    fake.lookup_errors.append(PermanentError("rejected", "the file upload was refused"))
    await runtime.handle(booked_event(document, integration))
    entry = await runtime.ledger.find(integration.id, document.id, 0)
    assert entry is not None and entry.state == "attempting"
    [failed] = [e.data for e in producer.of_type(FAILED)]
    assert (failed["code"], failed["retryable"]) == ("outcome_unknown", True)
    assert failed["message"] == (
        "exact did not confirm whether the document was booked, and looking it up there was "
        "refused (rejected: the file upload was refused); it will be looked up again before "
        "it is sent again."
    )

    await runtime.handle(booked_event(document, integration))
    assert list(fake.booked) == ["REF-3"]
    assert fake.pushes == 1
    assert len(producer.of_type(BOOKED)) == 1


@dataclass
class CustomerCreating(FakeConnector):
    """The fake, creating the customer with the documents whose number is in ``creates``."""

    creates: set[str] = field(default_factory=set)

    async def push(self, ctx: PushContext[SettingsModel], document: DocumentSnapshot) -> Booking:
        booking = await super().push(ctx, document)
        return replace(booking, customer_created=ctx.reference in self.creates)


async def test_a_redelivered_request_says_adopted_and_customer_created_as_the_first_did(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The answer again is the recorded event, flags included, and another sync run's
    answer carries them too; once retention dropped it, the flags are no longer known and
    an answer built from the ledger claims neither."""
    producer, fake = RecordingProducer(), CustomerCreating(creates={"SAY-1"})
    runtime = ConnectorRuntime(
        fake, sessionmaker=sessionmaker, producer=producer, retry=FAST, settle=SETTLE
    )
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    created, adopted, plain = (snapshot(client, f"SAY-{n}") for n in (1, 2, 3))
    await runtime.handle(booked_event(created, integration))
    fake.fail_next(UnknownOutcome("response lost"), after_commit=True)
    await runtime.handle(booked_event(adopted, integration))
    await runtime.handle(booked_event(plain, integration))
    run = uuid.uuid4()
    for document in (created, adopted):
        await runtime.handle(booked_event(document, integration))  # the same request again
        rerun = InvoiceBooked(document=document, targets=[target(integration)], sync_run_id=run)
        await runtime.handle(
            Envelope.wrap(rerun, source="/tests", subject=str(document.id), key="k")
        )

    first, again, other = (e.data for e in about(producer, created.id))
    assert first["customer_created"] is True and again == first
    assert other["customer_created"] is True and other["sync_run_id"] == str(run)
    first, again, other = (e.data for e in about(producer, adopted.id))
    assert first["adopted"] is True and again == first
    assert other["adopted"] is True and other["sync_run_id"] == str(run)

    async with sessionmaker.begin() as session:
        await session.execute(
            update(LedgerEntry).where(LedgerEntry.document_id == plain.id).values(result_event=None)
        )
    await runtime.handle(booked_event(plain, integration))
    first, again = (e.data for e in about(producer, plain.id))
    assert (again["adopted"], again["customer_created"]) == (False, False)
    assert again == first and fake.pushes == 3


async def test_an_inactive_integrations_refusal_after_another_attempt_is_a_new_event(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The same refusal of an inactive integration is one event per attempt the document
    has had: after another attempt failed, it is news to the API again."""
    producer = RecordingProducer()
    runtime, fake = runtime_for(sessionmaker, producer)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    event = booked_event(snapshot(client, "INACTIVE-1"), integration)
    await set_status(sessionmaker, integration, "pending_authorization")
    await runtime.handle(event)
    await set_status(sessionmaker, integration, "active")
    fake.fail_next(PermanentError("period_locked", "The period is locked."))
    await runtime.handle(event)
    await set_status(sessionmaker, integration, "pending_authorization")
    await runtime.handle(event)

    before, refused, after = producer.of_type(FAILED)
    assert before.data == after.data and before.data["code"] == "integration_inactive"
    assert before.data["retryable"] is True  # once the integration is connected again
    # The reason the API gave, after the status, with one full stop.
    assert before.data["message"] == (
        "The integration is pending authorization: Exact refused the token."
    )
    assert refused.data["code"] == "period_locked"
    assert len({before.id, refused.id, after.id}) == 3
