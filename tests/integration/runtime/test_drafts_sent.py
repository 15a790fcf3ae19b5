"""A document the system takes as a draft (a Lexware voucher a person finalises) is sent,
not booked: its number comes later. The ledger keeps it "sent", which counts as done,
and the API hears "sent", never a booking without a number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.protocol import Booking, PushContext
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import OUTCOMES, ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import LedgerEntry
from invoicesync_shared.events.documents import DocumentSnapshot
from invoicesync_shared.integration_settings import SettingsModel
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

SENT, BOOKED = "com.invoicesync.document.sent", "com.invoicesync.booking.assigned"
FAST = RetryPolicy(attempts=4, initial=0.01, maximum=0.05)


@dataclass
class DraftsOnly(FakeConnector):
    """The fake, whose system answers a push with the draft's id and no number yet."""

    async def push(self, ctx: PushContext[SettingsModel], document: DocumentSnapshot) -> Booking:
        booking = await super().push(ctx, document)
        return Booking(booking.remote_id, None)


async def test_a_draft_is_recorded_and_reported_as_sent_not_booked(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    fake, producer = DraftsOnly(), RecordingProducer()
    runtime = ConnectorRuntime(
        fake,
        sessionmaker=sessionmaker,
        producer=producer,
        retry=FAST,
        settle=timedelta(seconds=0.05),
    )
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "DRAFT-1")
    event = booked_event(document, integration)
    counted = {o: OUTCOMES.labels("exact", o)._value.get() for o in ("sent", "booked")}

    await runtime.handle(event)
    await runtime.handle(event)  # redelivered: "sent" is done, said again, not pushed

    after = {o: OUTCOMES.labels("exact", o)._value.get() - counted[o] for o in counted}
    assert after == {"sent": 1, "booked": 0}
    assert fake.pushes == 1 and not producer.of_type(BOOKED)
    first, again = producer.of_type(SENT)
    assert first.id == again.id
    assert first.data["remote_id"] == fake.booked["DRAFT-1"].remote_id
    async with sessionmaker() as session:
        entry = await session.get(LedgerEntry, (integration.id, document.id, 0))
    assert entry is not None
    assert (entry.state, entry.booking_number) == ("sent", None)
    assert entry.remote_id == first.data["remote_id"]
