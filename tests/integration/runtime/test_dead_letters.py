"""What the dead-letter topic holds, whole, so a parked message can be replayed or read: a
request the runtime gave up on is the request as it came, for this system's target only,
with the reason; a record no handler could read is its value and key as text, whatever
its bytes. Each one is counted."""

from __future__ import annotations

from aiokafka import ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.errors import TransientError
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import DEAD_LETTERS, ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.events.documents import BOOKED_EVENTS, SyncTarget
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.events.undeliverable import Undeliverable
from tests.support.factories import make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

FAST = RetryPolicy(attempts=2, initial=0.01, maximum=0.02)
PARKED = "invoicesync.dead-letter.exact"


def _dead_letters() -> float:
    return float(DEAD_LETTERS.labels("exact")._value.get())


async def test_a_request_given_up_on_is_parked_as_it_came_for_this_systems_target(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    fake, producer = FakeConnector(), RecordingProducer()
    runtime = ConnectorRuntime(fake, sessionmaker=sessionmaker, producer=producer, retry=FAST)
    client = await make_client(sessionmaker)
    exact = await make_integration(sessionmaker, client)
    lexware = await make_integration(sessionmaker, client, system="lexware")
    targets = [
        SyncTarget(integration_id=i.id, system=i.system, generation=0) for i in (exact, lexware)
    ]
    document = snapshot(client, "DL-1")
    event = Envelope.wrap(
        BOOKED_EVENTS[document.kind](document=document, targets=targets),
        source="/tests",
        subject=str(document.id),
        key=str(document.client_id),
    )
    for _ in range(FAST.attempts):
        fake.fail_next(TransientError("503"))
    before = _dead_letters()

    await runtime.handle(event)

    ((parked),) = [e for t, e in producer.published if t == PARKED]
    this_target = {"integration_id": str(exact.id), "system": "exact", "generation": 0}
    assert event.data["targets"][0] == this_target  # the lexware one is left out
    said = (parked.type, parked.source, parked.subject, parked.key)
    assert said == (event.type, "/connectors/exact", str(document.id), str(client.id))
    expected = {**event.data, "targets": [this_target], "dead_letter_reason": "503"}
    assert parked.data == expected
    assert _dead_letters() == before + 1


async def test_a_record_no_handler_reads_is_parked_as_text_whatever_its_bytes(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Bytes that are not UTF-8 are replaced, not refused; a missing key or value is empty."""
    producer = RecordingProducer()
    runtime = ConnectorRuntime(FakeConnector(), sessionmaker=sessionmaker, producer=producer)
    records: list[ConsumerRecord[bytes, bytes]] = [
        ConsumerRecord("invoicesync.documents", 1, 5, 0, 0, b"c\xff1", b"{\xfe", None, 3, 2, []),
        ConsumerRecord("invoicesync.documents", 0, 9, 0, 0, None, None, None, 0, 0, []),
    ]
    before = _dead_letters()

    for record in records:
        await runtime.dead_letter_record(record, "not a CloudEvent")

    said = [(topic, e.type, e.source, e.subject, e.key, e.data) for topic, e in producer.published]
    reason = "not a CloudEvent"
    assert said == [
        (
            PARKED,
            Undeliverable.TYPE,
            "/connectors/exact",
            "invoicesync.documents/1/5",
            "c\ufffd1",
            {"reason": reason, "value": "{\ufffd"},
        ),
        (
            PARKED,
            Undeliverable.TYPE,
            "/connectors/exact",
            "invoicesync.documents/0/9",
            "",
            {"reason": reason, "value": ""},
        ),
    ]
    assert _dead_letters() == before + 2
