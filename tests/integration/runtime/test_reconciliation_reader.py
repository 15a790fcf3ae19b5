"""The runtime's side of a reconciliation: the connector's entries go out in chunks and
one last event with the count and the calls used, all under one subject (the API's
result consumer keeps order per subject, so the last event never overtakes a chunk); a
connector that cannot read, an integration that is not active and a read that breaks
off each end in a last event that says why."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.call_count import count_call
from invoicesync_shared.connectors.errors import TransientError
from invoicesync_shared.connectors.ledger import Ledger
from invoicesync_shared.connectors.reconciliation import Period
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events import topics
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.events.reconciliations import ReconciliationRequested, RemoteEntry
from tests.integration.runtime.test_result_events import set_status
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

CHUNK, READ = (
    "com.invoicesync.reconciliation.entries_read",
    "com.invoicesync.reconciliation.read",
)


@dataclass
class ReadingConnector(FakeConnector):
    """Reads ``pages`` pages of 150 entries, one vendor call each; ``break_after``: the
    system stops answering after that many pages."""

    pages: int = 3
    break_after: int | None = None

    async def read_entries(
        self,
        integration: Integration,
        settings: Any,
        period: Period,
        ledger: Ledger,
        detailed: bool = False,
    ) -> AsyncIterator[list[RemoteEntry]]:
        for page in range(self.pages):
            if self.break_after is not None and page >= self.break_after:
                raise TransientError("503 from the fake")
            count_call("fake", "GET")
            yield [
                RemoteEntry(remote_id=f"{page}-{i}", gross=Decimal("1.00"), date=period.start)
                for i in range(150)
            ]


def _request(integration: Integration) -> tuple[Envelope, uuid.UUID]:
    rid = uuid.uuid4()
    event = ReconciliationRequested(
        reconciliation_id=rid,
        integration_id=integration.id,
        system=integration.system,
        period_from=date(2026, 11, 1),
        period_to=date(2026, 11, 30),
    )
    envelope = Envelope.wrap(event, source="/api", subject=str(rid), key=str(integration.client_id))
    return envelope, rid


async def _run(
    sessionmaker: async_sessionmaker[AsyncSession], connector: FakeConnector, status: str = ""
) -> tuple[list[Envelope], uuid.UUID, Integration]:
    producer = RecordingProducer()
    runtime = ConnectorRuntime(connector, sessionmaker=sessionmaker, producer=producer)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    if status:
        await set_status(sessionmaker, integration, status)
    envelope, rid = _request(integration)
    await runtime.handle(envelope)
    assert {topic for topic, _ in producer.published} == {topics.SYNC_RESULTS}
    return [e for _, e in producer.published], rid, integration


async def test_entries_go_in_chunks_then_the_count_and_the_calls_under_one_subject(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sent, rid, integration = await _run(sessionmaker, ReadingConnector())
    assert [e.type for e in sent] == [CHUNK, CHUNK, CHUNK, READ]
    assert {e.subject for e in sent} == {str(rid)}
    assert {e.key for e in sent} == {str(integration.client_id)}
    assert [len(e.data["entries"]) for e in sent[:3]] == [200, 200, 50]
    assert [e.data["chunk"] for e in sent[:3]] == [0, 1, 2]
    last = sent[-1].data
    assert (last["chunks"], last["entries"], last["calls_used"]) == (3, 450, 3)
    assert last["failure_code"] is None


async def test_a_connector_that_cannot_read_says_so(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    (only,), _, _ = await _run(sessionmaker, FakeConnector())
    assert (only.type, only.data["failure_code"]) == (READ, "not_supported")


async def test_an_integration_that_is_not_active_is_not_read(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    connector = ReadingConnector()
    (only,), _, _ = await _run(sessionmaker, connector, status="needs_reauthorization")
    assert (only.type, only.data["failure_code"]) == (READ, "integration_inactive")


async def test_a_read_that_breaks_off_ends_failed_with_what_it_cost(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sent, _, _ = await _run(sessionmaker, ReadingConnector(break_after=2))
    assert [e.type for e in sent] == [CHUNK, READ]
    last = sent[-1].data
    assert (last["failure_code"], last["calls_used"], last["entries"]) == ("unavailable", 2, 200)
    assert "503 from the fake" in last["message"]


@dataclass
class BookedReader(FakeConnector):
    """Reads back what it booked, naming our documents as the ledger it is handed knows
    them (as the Exact and Lexware readers do)."""

    async def read_entries(
        self,
        integration: Integration,
        settings: Any,
        period: Period,
        ledger: Ledger,
        detailed: bool = False,
    ) -> AsyncIterator[list[RemoteEntry]]:
        remote_ids = [booking.remote_id for booking in self.booked.values()]
        known = await ledger.documents_of(integration.id, remote_ids)
        yield [
            RemoteEntry(
                remote_id=remote_id,
                gross=Decimal("121.00"),
                date=period.start,
                document_id=known[remote_id][0] if remote_id in known else None,
                reference=known[remote_id][1] if remote_id in known else None,
            )
            for remote_id in remote_ids
        ]


async def test_the_reader_knows_the_documents_the_runtime_booked(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The reader is handed the runtime's ledger: what the runtime booked, it names."""
    connector, producer = BookedReader(), RecordingProducer()
    runtime = ConnectorRuntime(connector, sessionmaker=sessionmaker, producer=producer)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "RECON-1")
    await runtime.handle(booked_event(document, integration))
    envelope, _ = _request(integration)
    await runtime.handle(envelope)

    (chunk,) = [e for _, e in producer.published if e.type == CHUNK]
    (entry,) = chunk.data["entries"]
    assert (entry["document_id"], entry["reference"]) == (str(document.id), "RECON-1")
