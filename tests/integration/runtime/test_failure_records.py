"""A failed attempt leaves its code and message in its ledger entry (for support: why did
this document stop?), and its entry's state says what the next try must do: "failed" for
a refusal, "attempting" (look it up first) when the write's outcome is unknown."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.errors import PermanentError, UnknownOutcome
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import Integration, LedgerEntry
from invoicesync_shared.events.documents import DocumentSnapshot
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

FAST = RetryPolicy(attempts=2, initial=0.01, maximum=0.05)


async def _entry(
    sessionmaker: async_sessionmaker[AsyncSession],
    integration: Integration,
    document: DocumentSnapshot,
) -> tuple[str, str | None]:
    async with sessionmaker() as session:
        entry = await session.get(LedgerEntry, (integration.id, document.id, 0))
    assert entry is not None
    return entry.state, entry.last_error


async def test_a_failure_keeps_its_code_and_message_in_the_ledger(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    fake = FakeConnector()
    runtime = ConnectorRuntime(
        fake,
        sessionmaker=sessionmaker,
        producer=RecordingProducer(),
        retry=FAST,
        settle=timedelta(0),
    )
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    refused, unknown = snapshot(client, "REC-1"), snapshot(client, "REC-2")

    fake.fail_next(PermanentError("period_locked", "The period is locked."))
    await runtime.handle(booked_event(refused, integration))
    for _ in range(FAST.attempts):
        fake.fail_next(UnknownOutcome("Exact did not answer"))
    await runtime.handle(booked_event(unknown, integration))

    assert await _entry(sessionmaker, integration, refused) == (
        "failed",
        "period_locked: The period is locked.",
    )
    assert await _entry(sessionmaker, integration, unknown) == (
        "attempting",
        "outcome_unknown: exact did not confirm whether the document was booked; it will be "
        "looked up before it is sent again.",
    )
