"""An edit of a pushed document updates its booking there, once per newer revision, and
never books the document a second time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.errors import TransientError, UnknownOutcome
from invoicesync_shared.connectors.protocol import Booking, PushContext
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import OUTCOMES, ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events import topics
from invoicesync_shared.events.documents import DocumentSnapshot, DocumentUpdated, SyncTarget
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.integration_settings import SettingsModel
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

BOOKED, DEFERRED = "com.invoicesync.booking.assigned", "com.invoicesync.sync.deferred"
FAST = RetryPolicy(attempts=4, initial=0.01, maximum=0.05)
SETTLE = timedelta(seconds=0.05)  # the fake shows a booking at once
# A request the ledger refuses to claim waits for another worker's outcome: a failure, not a hang.
BOUND = 20.0


@dataclass
class ContextKeeping(FakeConnector):
    """The fake, keeping the context each push was handed."""

    contexts: list[PushContext[SettingsModel]] = field(default_factory=list)

    async def push(self, ctx: PushContext[SettingsModel], document: DocumentSnapshot) -> Booking:
        self.contexts.append(ctx)
        return await super().push(ctx, document)


def edited(document: DocumentSnapshot, integration: Integration, revision: int) -> Envelope:
    """The API's request to push ``document`` again after its ``revision``-th edit."""
    event = DocumentUpdated(
        document=document.model_copy(update={"revision": revision}),
        targets=[SyncTarget(integration_id=integration.id, system=integration.system)],
    )
    return Envelope.wrap(
        event, source="/tests", subject=str(document.id), key=str(document.client_id)
    )


async def test_an_edit_updates_the_booking_once_per_newer_revision(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    fake, producer = ContextKeeping(), RecordingProducer()
    runtime = ConnectorRuntime(
        fake, sessionmaker=sessionmaker, producer=producer, retry=FAST, settle=SETTLE
    )
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "EDIT-1")
    await runtime.handle(booked_event(document, integration))
    (booked,) = producer.of_type(BOOKED)

    edit = edited(document, integration, revision=1)
    await runtime.handle(edit)
    await asyncio.wait_for(runtime.handle(edit), BOUND)  # redelivered: said again, not pushed
    await runtime.handle(booked_event(document, integration))  # the first request, late

    # The edit went as an update of the booking it had, never as a new document.
    assert fake.pushes == 2 and fake.lookups == 0
    first, update = fake.contexts
    assert (first.is_update, first.previous, first.tried_before) == (False, None, False)
    assert update.is_update and update.tried_before
    assert update.previous == Booking(booked.data["remote_id"], "1")
    answers = producer.of_type(BOOKED)
    assert [e.data["booking_number"] for e in answers] == ["1", "1", "1", "1"]
    assert [e.data["revision"] for e in answers] == [0, 1, 1, 0]  # each its request's
    assert {t for t, e in producer.published if e.type == BOOKED} == {topics.SYNC_RESULTS}
    entry = await runtime.ledger.find(integration.id, document.id, 0)
    assert entry is not None and (entry.state, entry.revision) == ("booked", 1)

    # An older edit arriving after a newer one was pushed changes nothing there.
    await runtime.handle(edited(document, integration, revision=3))
    await asyncio.wait_for(runtime.handle(edited(document, integration, revision=2)), BOUND)
    assert fake.pushes == 3 and len(fake.booked) == 1
    assert [e.data["booking_number"] for e in producer.of_type(BOOKED)][-2:] == ["1", "1"]
    entry = await runtime.ledger.find(integration.id, document.id, 0)
    assert entry is not None and entry.revision == 3


async def test_an_edit_that_has_to_wait_leaves_the_document_booked(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The edit met a spent budget: nothing was sent, so the entry is what it was, booked,
    and the first request redelivered meanwhile is answered with the booking, not pushed
    as a new document."""
    fake, producer = ContextKeeping(), RecordingProducer()
    runtime = ConnectorRuntime(
        fake, sessionmaker=sessionmaker, producer=producer, retry=FAST, settle=SETTLE
    )
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "EDIT-2")
    await runtime.handle(booked_event(document, integration))

    deferrals = OUTCOMES.labels("exact", "deferred")._value.get()
    fake.fail_next(TransientError("Yuki's daily limit is spent", retry_after=3600))
    await runtime.handle(edited(document, integration, revision=1))
    assert OUTCOMES.labels("exact", "deferred")._value.get() == deferrals + 1
    ((topic, deferred),) = [(t, e) for t, e in producer.published if e.type == DEFERRED]
    assert topic == topics.SYNC_RESULTS and deferred.data["revision"] == 1
    entry = await runtime.ledger.find(integration.id, document.id, 0)
    assert entry is not None and (entry.state, entry.revision) == ("booked", 0)

    await runtime.handle(booked_event(document, integration))
    assert fake.pushes == 2 and len(fake.booked) == 1
    assert [e.data["booking_number"] for e in producer.of_type(BOOKED)] == ["1", "1"]


async def test_the_first_request_redelivered_while_an_edit_is_in_doubt_does_not_undo_the_edit(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The edit's answer never came (its entry stays "attempting", the edit may be in the
    booking). The document's first request, redelivered late, is not an edit: it looks
    the document up and reports the booking, and never sends the old content over the
    edit as an update."""
    fake, producer = ContextKeeping(), RecordingProducer()
    runtime = ConnectorRuntime(
        fake, sessionmaker=sessionmaker, producer=producer, retry=FAST, settle=SETTLE
    )
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "EDIT-3")
    await runtime.handle(booked_event(document, integration))
    for _ in range(FAST.attempts):
        fake.fail_next(UnknownOutcome("no answer to the update"))
    await runtime.handle(edited(document, integration, revision=1))
    entry = await runtime.ledger.find(integration.id, document.id, 0)
    assert entry is not None and entry.state == "attempting"
    pushes = fake.pushes

    await asyncio.wait_for(runtime.handle(booked_event(document, integration)), BOUND)

    assert fake.pushes == pushes, "the first request was sent again"
    assert fake.lookups == 1 and len(fake.booked) == 1
    (first, adopted) = producer.of_type(BOOKED)
    assert adopted.data["adopted"] is True
    assert adopted.data["remote_id"] == first.data["remote_id"]
