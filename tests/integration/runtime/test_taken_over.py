"""An attempt whose document another attempt took over while it pushed records and reports
nothing: the newer attempt decides and reports, so the API never hears two outcomes for
one document, and the ledger keeps the newer attempt's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.errors import AuthorizationLost, PermanentError, TransientError
from invoicesync_shared.connectors.lease import LEASES_LOST
from invoicesync_shared.connectors.protocol import Booking, PushContext
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import LedgerEntry
from invoicesync_shared.events.documents import DocumentSnapshot
from invoicesync_shared.events.integrations import IntegrationConnectionLost
from invoicesync_shared.integration_settings import SettingsModel
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

FAST = RetryPolicy(attempts=4, initial=0.01, maximum=0.05)
SETTLE = timedelta(seconds=0.05)


@dataclass
class TakenOver(FakeConnector):
    """The fake; during a push of a document in ``taken``, another attempt takes that
    document over (as a replica does once it believes the lease lapsed)."""

    sessionmaker: async_sessionmaker[AsyncSession] | None = None
    taken: set[str] = field(default_factory=set)

    async def push(self, ctx: PushContext[SettingsModel], document: DocumentSnapshot) -> Booking:
        if ctx.reference in self.taken and self.sessionmaker is not None:
            self.taken.discard(ctx.reference)
            async with self.sessionmaker.begin() as session:
                await session.execute(
                    update(LedgerEntry)
                    .where(LedgerEntry.document_id == document.id)
                    .values(attempts=LedgerEntry.attempts + 1)
                )
        return await super().push(ctx, document)


async def test_an_attempt_taken_over_during_its_push_leaves_the_outcome_to_the_new_holder(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    fake, producer = TakenOver(sessionmaker=sessionmaker), RecordingProducer()
    runtime = ConnectorRuntime(
        fake, sessionmaker=sessionmaker, producer=producer, retry=FAST, settle=SETTLE
    )
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    endings: dict[str, tuple[list[Exception], str]] = {
        "OVER-BOOKED": ([], "the lease was lost before the outcome was recorded"),
        "OVER-REFUSED": (
            [PermanentError("period_locked", "The period is locked.")],
            "the lease was lost before the failure was recorded",
        ),
        "OVER-GAVE-UP": (
            [TransientError("Exact answered 503") for _ in range(FAST.attempts)],
            "the lease was lost before the failure was recorded",
        ),
        "OVER-DEFERRED": (
            [TransientError("Exact answered 429", retry_after=3600)],
            "the lease was lost before the deferral was recorded",
        ),
        "OVER-LOST": (
            [AuthorizationLost("refused")],
            "the lease was lost before the attempt was released",
        ),
    }
    for number, (errors, reason) in endings.items():
        document = snapshot(client, number)
        fake.taken.add(number)
        for error in errors:
            fake.fail_next(error)
        lost_before = LEASES_LOST.labels("exact")._value.get()
        event = booked_event(document, integration)
        with structlog.testing.capture_logs() as logs:
            await runtime.handle(event)

        assert LEASES_LOST.labels("exact")._value.get() == lost_before + 1, number
        (lost,) = [line for line in logs if line["event"].startswith("lease lost")]
        said = (lost["reason"], lost["document_id"], lost["event_id"])
        assert said == (reason, str(document.id), event.id)
        # Nothing recorded over the newer attempt: its entry is as that attempt left it.
        async with sessionmaker() as session:
            entry = await session.get(LedgerEntry, (integration.id, document.id, 0))
        assert entry is not None and (entry.state, entry.attempts) == ("attempting", 2)
        assert entry.result_event is None and entry.last_error is None, number

    # Not one result, failure, deferral or dead letter: only the refused grant is told
    # (the API must hear that whoever holds the document).
    assert [e.type for _, e in producer.published] == [IntegrationConnectionLost.TYPE]
