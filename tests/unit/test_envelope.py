"""Events survive the trip through the outbox and Kafka's binary mode unchanged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.events.results import BookingAssigned, SyncFailed
from tests.support.clocks import held_at


def period_closed() -> SyncFailed:
    return SyncFailed(
        document_id=uuid.uuid4(),
        integration_id=uuid.uuid4(),
        code="period_closed",
        message="Period 2026-03 is closed.",
        retryable=False,
    )


def test_kafka_binary_round_trip_keeps_attributes_key_and_data() -> None:
    event = period_closed()
    envelope = Envelope.wrap(event, source="/connectors/yuki", subject="doc-1", key="client-1")
    message = envelope.to_kafka()
    assert message.headers["ce_type"] == b"com.invoicesync.sync.failed"
    assert message.headers["content-type"] == b"application/json"
    key = message.key.encode() if isinstance(message.key, str) else message.key
    decoded = Envelope.from_kafka(message.headers, key, message.value)
    assert (decoded.id, decoded.type, decoded.subject, decoded.key) == (
        envelope.id,
        envelope.type,
        "doc-1",
        "client-1",
    )
    assert SyncFailed.model_validate(decoded.data) == event


def test_outbox_json_round_trip() -> None:
    event = BookingAssigned(
        document_id=uuid.uuid4(),
        integration_id=uuid.uuid4(),
        booking_number="26700001",
        remote_id="guid",
        sent_at="2026-11-20T10:00:00Z",
    )
    envelope = Envelope.wrap(event, source="/api", subject="s", key="k")
    assert Envelope.from_json(envelope.to_json()) == envelope


def test_garbage_is_refused_with_value_error() -> None:
    try:
        Envelope.from_kafka({}, b"k", b"not json at all")
    except ValueError as exc:
        assert "CloudEvent" in str(exc)
    else:
        raise AssertionError("garbage was accepted")


def test_newer_fields_are_ignored_by_older_readers() -> None:
    data = {
        "document_id": str(uuid.uuid4()),
        "integration_id": str(uuid.uuid4()),
        "code": "x",
        "message": "m",
        "retryable": True,
        "added_in_a_later_version": 1,
    }
    assert SyncFailed.model_validate(data).code == "x"


def test_an_event_is_timed_by_the_shared_clock() -> None:
    """Its ``time`` is the shared clock's, as every date the product compares."""
    moved = datetime(2041, 2, 3, 4, 5, 6, tzinfo=UTC)
    with held_at(moved):
        envelope = Envelope.wrap(period_closed(), source="/connectors/yuki", subject="d", key="c")
    assert envelope.time == moved
    assert Envelope.from_json(envelope.to_json()).time == moved
