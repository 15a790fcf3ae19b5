"""What the runtime did with a document, and why, is in the log under the ids support
looks it up by, and a document held for its integration is counted by reason: "why was
my invoice not sent?" has an answer without a debugger."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import MutableMapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.errors import AuthorizationLost, TransientError
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import HELD, ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import Integration, LedgerEntry
from invoicesync_shared.events.envelope import Envelope
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

FAST = RetryPolicy(attempts=4, initial=0.01, maximum=0.05)
# A write in doubt is looked up this long after (the default, 30 s, would be waited here).
SETTLE = timedelta(seconds=0.05)


async def _with_status(
    sessionmaker: async_sessionmaker[AsyncSession], status: str
) -> tuple[ConnectorRuntime, FakeConnector, RecordingProducer, Envelope]:
    fake, producer = FakeConnector(), RecordingProducer()
    runtime = ConnectorRuntime(
        fake, sessionmaker=sessionmaker, producer=producer, retry=FAST, settle=SETTLE
    )
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Integration).where(Integration.id == integration.id).values(status=status)
        )
    return runtime, fake, producer, booked_event(snapshot(client, f"{status}-1"), integration)


def _said(logs: Sequence[MutableMapping[str, Any]], event: Envelope) -> list[tuple[str, str]]:
    """What was logged about ``event``'s document, as (level, text), checking that each
    line carries the ids support searches by."""
    document = event.data["document"]
    ((target,),) = [event.data["targets"]]
    lines = []
    for line in logs:
        assert (
            line["document_id"],
            line["integration_id"],
            line["client_id"],
            line["event_id"],
        ) == (document["id"], target["integration_id"], document["client_id"], event.id), line
        lines.append((line["log_level"], line["event"]))
    return lines


async def test_a_document_for_a_deactivated_integration_is_skipped_and_says_so(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    runtime, fake, producer, event = await _with_status(sessionmaker, "deactivated")
    with structlog.testing.capture_logs() as logs:
        await runtime.handle(event)
    assert fake.pushes == 0 and not producer.published
    assert _said(logs, event) == [("info", "integration gone or deactivated; skipped")]


async def test_a_document_held_for_a_reconnect_or_a_pause_says_why_and_is_counted(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Left pending, unsent and unreported: the log says which wait it is in, and the
    held counter (the dashboard's "documents waiting") counts it under its reason."""
    for status, reason, text in (
        ("needs_reauthorization", "reconnect", "integration waits to be connected again"),
        ("error", "reconnect", "integration waits to be connected again"),
        ("paused", "paused", "integration paused"),
    ):
        runtime, fake, producer, event = await _with_status(sessionmaker, status)
        held = {r: HELD.labels("exact", r)._value.get() for r in ("reconnect", "paused")}
        with structlog.testing.capture_logs() as logs:
            await runtime.handle(event)
        assert fake.pushes == 0 and not producer.published
        assert _said(logs, event) == [("info", f"{text}; document left pending")]
        counted = {r: HELD.labels("exact", r)._value.get() - held[r] for r in held}
        assert counted == {r: 1 if r == reason else 0 for r in held}, status


async def test_a_kind_the_connector_does_not_book_is_logged_with_its_kind(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    runtime, fake, producer, event = await _with_status(sessionmaker, "active")
    fake.kinds = frozenset({"credit_note"})
    with structlog.testing.capture_logs() as logs:
        await runtime.handle(event)
    assert fake.pushes == 0 and len(producer.published) == 1
    ((_, text),) = _said(logs, event)
    assert text == "document kind not supported"
    assert logs[0]["kind"] == "invoice"


async def test_each_way_a_push_ends_is_logged_with_its_reason(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Booked (with its number, adopted or not), deferred (why, until when), the grant
    refused (its reason), given up after retries (the last error) and an internal error
    (with its traceback): one line each, at its level."""
    runtime, fake, producer, event = await _with_status(sessionmaker, "active")
    fake.fail_next(TransientError("Exact answered 429", retry_after=3600))
    fake.fail_next(AuthorizationLost("refused", reason="token_revoked"))
    for _ in range(FAST.attempts):
        fake.fail_next(TransientError("Exact answered 503"))
    fake.fail_next(KeyError("EntryNumber"), after_commit=True)  # booked, answer unreadable
    with structlog.testing.capture_logs() as logs:
        for _ in range(5):
            await runtime.handle(event)

    deferred, refused, gave_up, unexpected, pushed = logs
    assert _said(logs, event) == [
        ("info", "push deferred"),
        ("warning", "authorisation lost; document left pending"),
        ("warning", "push gave up after retries"),
        ("error", "push failed unexpectedly"),
        ("info", "pushed"),
    ]
    (waiting,) = producer.of_type("com.invoicesync.sync.deferred")
    until = datetime.fromisoformat(waiting.data["waiting_until"])
    assert (deferred["reason"], deferred["until"]) == ("rate_limited", str(until))
    assert refused["reason"] == "token_revoked"
    assert gave_up["error"] == "Exact answered 503"
    assert unexpected["exc_info"] is True
    assert (pushed["booking_number"], pushed["adopted"]) == ("1", True)


async def test_a_document_another_worker_keeps_pushing_is_left_to_it_and_says_so(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The holder's push outlasts the wait (three leases): the waiting replica neither
    pushes nor reports, and says it left the document to the holder, which books and
    reports it once. (A lease of a second: the holder's renewals must not lapse while
    another test worker loads the machine.)"""
    lease = timedelta(seconds=1.0)
    fake, producer = FakeConnector(gate=asyncio.Event()), RecordingProducer()
    holder, waiter = (
        ConnectorRuntime(fake, sessionmaker=sessionmaker, producer=producer, lease=lease)
        for _ in range(2)
    )
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    event = booked_event(snapshot(client, "HELD-ELSEWHERE-1"), integration)
    pushing = asyncio.create_task(holder.handle(event))
    await asyncio.wait_for(fake.in_push.wait(), 10)

    with structlog.testing.capture_logs() as logs:
        await asyncio.wait_for(waiter.handle(event), 10)

    assert waiter.lease_waited.is_set() and not producer.published
    assert _said(logs, event) == [
        ("warning", "another worker still holds this document; it will report")
    ]
    assert fake.gate is not None
    fake.gate.set()
    await asyncio.wait_for(pushing, 10)
    assert fake.pushes == 1 and len(producer.of_type("com.invoicesync.booking.assigned")) == 1


async def test_a_document_booked_elsewhere_since_it_was_read_is_reported_not_pushed_again(
    sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another replica books the document between this one's read of its entry and its
    claim: this one reports that booking and sends nothing. Its request is a re-ask that
    carries the document as edited since (revision 1, before any push), not an edit: a
    finished entry is taken again only for an edit newer than what was pushed."""
    fake, producer = FakeConnector(), RecordingProducer()
    other, this = (
        ConnectorRuntime(fake, sessionmaker=sessionmaker, producer=producer, retry=FAST)
        for _ in range(2)
    )
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "BOOKED-ELSEWHERE-1")
    first = booked_event(document, integration)
    reasked = booked_event(document.model_copy(update={"revision": 1}), integration)
    read = this.ledger.find_with_integration

    async def read_then_booked_elsewhere(
        integration_id: uuid.UUID, document_id: uuid.UUID, generation: int
    ) -> tuple[LedgerEntry | None, Integration | None]:
        found = await read(integration_id, document_id, generation)
        await other.handle(first)
        return found

    monkeypatch.setattr(this.ledger, "find_with_integration", read_then_booked_elsewhere)
    await asyncio.wait_for(this.handle(reasked), 10)

    assert fake.pushes == 1
    booked = producer.of_type("com.invoicesync.booking.assigned")
    assert [answer.data["booking_number"] for answer in booked] == ["1", "1"]
    assert booked[1].data["revision"] == 1  # this request's answer, the booking as it is
