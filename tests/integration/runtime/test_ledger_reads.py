"""The ledger's read-backs, one at a time: which entries ``latest_remote_id``,
``documents_of``, ``sent_since`` and ``find_with_integration`` return, in what order of
generations, and what they leave out (another integration, document or generation, an
entry without a remote id, one not booked or sent, one sent before the cut-off).

Connectors and reconciliations build on these answers (an edit finds the booking it
changes, a reconciliation knows which remote bookings are ours), so each rule has a test
of its own here. The entries are written as rows, under integration ids of their own, so
no other test's entries show."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)

from invoicesync_shared.connectors.ledger import Ledger
from invoicesync_shared.db.models import LedgerEntry
from invoicesync_shared.states import LedgerState
from tests.support.factories import make_client, make_integration
from tests.support.round_trips import counting

SINCE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def _write(
    sessionmaker: async_sessionmaker[AsyncSession],
    integration_id: uuid.UUID,
    document_id: uuid.UUID,
    generation: int = 0,
    *,
    state: str = LedgerState.BOOKED,
    remote_id: str | None = None,
    reference: str = "REF",
    sent_at: datetime | None = None,
) -> None:
    """One ledger entry as a connector leaves it (only the columns the reads look at)."""
    async with sessionmaker.begin() as session:
        session.add(
            LedgerEntry(
                integration_id=integration_id,
                document_id=document_id,
                generation=generation,
                system="exact",
                state=state,
                reference=reference,
                remote_id=remote_id,
                sent_at=sent_at,
                attempts=1,
            )
        )


# latest_remote_id: an edit or a cancellation finds the booking it changes.


async def test_the_latest_generation_with_a_remote_id_gives_the_documents_remote_id(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A document pushed again after a reset has a newer generation: its remote id is the
    one an edit changes, whichever generation was written first."""
    integration, document = uuid.uuid4(), uuid.uuid4()
    await _write(sessionmaker, integration, document, 1, remote_id="NEW")
    await _write(sessionmaker, integration, document, 0, remote_id="OLD")
    await _write(sessionmaker, integration, document, 2, remote_id="NEWER")
    ledger = Ledger(sessionmaker, "exact")

    assert await ledger.latest_remote_id(integration, document) == "NEWER"


async def test_a_newer_generation_without_a_remote_id_leaves_the_older_ones(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The newest generation still attempting (or failed) has no remote id yet: the
    document's remote id is the newest one there is."""
    integration, document = uuid.uuid4(), uuid.uuid4()
    await _write(sessionmaker, integration, document, 0, remote_id="FIRST")
    await _write(sessionmaker, integration, document, 1, remote_id="SECOND")
    await _write(sessionmaker, integration, document, 2, state=LedgerState.ATTEMPTING)
    await _write(sessionmaker, integration, document, 3, state=LedgerState.FAILED)
    ledger = Ledger(sessionmaker, "exact")

    assert await ledger.latest_remote_id(integration, document) == "SECOND"


async def test_a_remote_id_is_the_integrations_and_the_documents_own(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Another integration's booking of the same document, or another document of the
    same integration, is never this document's remote id, newer generation or not."""
    integration, document = uuid.uuid4(), uuid.uuid4()
    await _write(sessionmaker, integration, document, 0, remote_id="OURS")
    await _write(sessionmaker, uuid.uuid4(), document, 5, remote_id="OTHER-INTEGRATION")
    await _write(sessionmaker, integration, uuid.uuid4(), 5, remote_id="OTHER-DOCUMENT")
    ledger = Ledger(sessionmaker, "exact")

    assert await ledger.latest_remote_id(integration, document) == "OURS"


async def test_a_document_never_booked_has_no_remote_id(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """No entry, or only entries without a remote id: None (never the text "None")."""
    integration, document, attempted = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await _write(sessionmaker, integration, attempted, 0, state=LedgerState.ATTEMPTING)
    await _write(sessionmaker, integration, uuid.uuid4(), 0, remote_id="SOMEONE-ELSES")
    ledger = Ledger(sessionmaker, "exact")

    assert await ledger.latest_remote_id(integration, document) is None
    assert await ledger.latest_remote_id(integration, attempted) is None


# documents_of: which remote bookings a reconciliation lists are ours.


async def test_documents_of_maps_the_asked_remote_ids_this_integration_booked(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Remote id → (document, our reference) for the asked ids this integration booked;
    an id asked but not booked here, or booked only by another integration, is left
    out, and so is an entry of this integration that was not asked for."""
    ours, other = uuid.uuid4(), uuid.uuid4()
    first, second, unasked = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await _write(sessionmaker, ours, first, remote_id="R1", reference="INV-1")
    await _write(sessionmaker, ours, second, remote_id="R2", reference="INV-2")
    await _write(sessionmaker, ours, unasked, remote_id="R3", reference="INV-3")
    await _write(sessionmaker, other, uuid.uuid4(), remote_id="R4", reference="THEIRS")
    ledger = Ledger(sessionmaker, "exact")

    known = await ledger.documents_of(ours, ["R1", "R2", "R4", "UNKNOWN"])

    assert known == {"R1": (first, "INV-1"), "R2": (second, "INV-2")}


async def test_documents_of_a_remote_id_both_integrations_booked_gives_this_ones(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Two integrations on the same remote administration may both know a remote id:
    each reads its own document, never the other's."""
    ours, other = uuid.uuid4(), uuid.uuid4()
    document = uuid.uuid4()
    await _write(sessionmaker, other, uuid.uuid4(), 3, remote_id="SHARED", reference="THEIRS")
    await _write(sessionmaker, ours, document, 0, remote_id="SHARED", reference="OURS")
    await _write(sessionmaker, other, uuid.uuid4(), 4, remote_id="SHARED", reference="THEIRS")
    ledger = Ledger(sessionmaker, "exact")

    assert await ledger.documents_of(ours, {"SHARED"}) == {"SHARED": (document, "OURS")}


async def test_documents_of_reads_the_latest_generations_entry(
    unindexed: async_sessionmaker[AsyncSession],
) -> None:
    """A document booked again under the same remote id after a reset: the newest
    generation's reference, though it was written first (and so lies first in the
    table, read in table order here)."""
    integration, document = uuid.uuid4(), uuid.uuid4()
    await _write(unindexed, integration, document, 2, remote_id="R", reference="THIRD")
    await _write(unindexed, integration, document, 0, remote_id="R", reference="FIRST")
    await _write(unindexed, integration, document, 1, remote_id="R", reference="SECOND")
    ledger = Ledger(unindexed, "exact")

    assert await ledger.documents_of(integration, ["R"]) == {"R": (document, "THIRD")}


async def test_documents_of_nothing_asks_the_database_nothing(
    sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    """A reconciliation over a period without remote bookings asks for no ids: an empty
    answer without a round trip."""
    integration = uuid.uuid4()
    await _write(sessionmaker, integration, uuid.uuid4(), remote_id="R", reference="INV")
    ledger = Ledger(sessionmaker, "exact")

    with counting(engine) as trips:
        known = await ledger.documents_of(integration, [])

    assert known == {}
    assert trips.total == 0, trips.statements


# sent_since: what a reconciliation of a system that cannot list by date expects to find.


async def test_sent_since_gives_what_was_booked_or_sent_from_the_cut_off_on(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Booked and sent entries count from ``since`` itself on; an entry sent before it
    does not, nor one never sent."""
    integration = uuid.uuid4()
    booked, sent, at_cut_off = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    later = SINCE + timedelta(days=3)
    await _write(sessionmaker, integration, booked, remote_id="B", reference="INV-B", sent_at=later)
    await _write(
        sessionmaker,
        integration,
        sent,
        state=LedgerState.SENT,
        remote_id="S",
        reference="INV-S",
        sent_at=later,
    )
    await _write(
        sessionmaker, integration, at_cut_off, remote_id="C", reference="INV-C", sent_at=SINCE
    )
    before = SINCE - timedelta(microseconds=1)
    await _write(sessionmaker, integration, uuid.uuid4(), remote_id="OLD", sent_at=before)
    await _write(sessionmaker, integration, uuid.uuid4(), remote_id="NEVER-SENT")
    ledger = Ledger(sessionmaker, "exact")

    assert await ledger.sent_since(integration, SINCE) == {
        "B": (booked, "INV-B"),
        "S": (sent, "INV-S"),
        "C": (at_cut_off, "INV-C"),
    }


async def test_sent_since_leaves_out_attempts_failures_and_entries_without_remote_id(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """An attempt in doubt or a refusal is no booking the system has, even with a remote
    id and a send time on the entry; a booked entry without a remote id names none."""
    integration, booked = uuid.uuid4(), uuid.uuid4()
    later = SINCE + timedelta(hours=1)
    await _write(sessionmaker, integration, booked, remote_id="B", reference="INV", sent_at=later)
    for state in (LedgerState.ATTEMPTING, LedgerState.FAILED):
        await _write(
            sessionmaker, integration, uuid.uuid4(), state=state, remote_id=state, sent_at=later
        )
    await _write(sessionmaker, integration, uuid.uuid4(), remote_id=None, sent_at=later)
    ledger = Ledger(sessionmaker, "exact")

    assert await ledger.sent_since(integration, SINCE) == {"B": (booked, "INV")}


async def test_sent_since_is_the_integrations_own(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Another integration's bookings, of the same remote id too, are not this one's."""
    ours, other, document = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    later = SINCE + timedelta(hours=1)
    await _write(sessionmaker, other, uuid.uuid4(), 7, remote_id="R", reference="X", sent_at=later)
    await _write(sessionmaker, ours, document, 0, remote_id="R", reference="OURS", sent_at=later)
    await _write(sessionmaker, other, uuid.uuid4(), 8, remote_id="Q", reference="X", sent_at=later)
    ledger = Ledger(sessionmaker, "exact")

    assert await ledger.sent_since(ours, SINCE) == {"R": (document, "OURS")}
    assert await ledger.sent_since(uuid.uuid4(), SINCE) == {}


async def test_sent_since_reads_the_latest_generations_entry(
    unindexed: async_sessionmaker[AsyncSession],
) -> None:
    """The same remote id booked by two generations of a document: the newest one's
    reference, though it was written first (read in table order here)."""
    integration, document = uuid.uuid4(), uuid.uuid4()
    later = SINCE + timedelta(hours=1)
    await _write(
        unindexed, integration, document, 2, remote_id="R", reference="THIRD", sent_at=later
    )
    await _write(
        unindexed, integration, document, 0, remote_id="R", reference="FIRST", sent_at=later
    )
    await _write(
        unindexed, integration, document, 1, remote_id="R", reference="SECOND", sent_at=later
    )
    ledger = Ledger(unindexed, "exact")

    assert await ledger.sent_since(integration, SINCE) == {"R": (document, "THIRD")}


# find_with_integration: the entry of one document and generation, and its integration.


async def test_find_with_integration_reads_the_asked_documents_asked_generation(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Of an integration's entries, the one of the asked document and generation, each
    of them in turn; a generation not written yet: none, with the integration."""
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    documents = [uuid.uuid4() for _ in range(3)]
    for document in documents:
        for generation in range(3):
            await _write(
                sessionmaker,
                integration.id,
                document,
                generation,
                remote_id=f"{document}:{generation}",
            )
    ledger = Ledger(sessionmaker, "exact")

    for document in documents:
        for generation in range(3):
            entry, found = await ledger.find_with_integration(integration.id, document, generation)
            assert found is not None and found.id == integration.id
            assert entry is not None and entry.remote_id == f"{document}:{generation}"
    missing, found = await ledger.find_with_integration(integration.id, documents[0], 3)
    assert missing is None and found is not None and found.id == integration.id


async def test_find_with_integration_without_the_integration_still_reads_the_entry(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """An entry whose integration is gone (deleted after the push) is read as ``find``
    reads it, the asked document's and generation's, with no integration."""
    gone, document = uuid.uuid4(), uuid.uuid4()
    for generation in range(3):
        await _write(sessionmaker, gone, document, generation, remote_id=f"G{generation}")
    await _write(sessionmaker, gone, uuid.uuid4(), 1, remote_id="OTHER")
    ledger = Ledger(sessionmaker, "exact")

    for generation in range(3):
        entry, integration = await ledger.find_with_integration(gone, document, generation)
        assert integration is None
        assert entry is not None and entry.remote_id == f"G{generation}"
        assert (entry.integration_id, entry.document_id) == (gone, document)
    nothing = await ledger.find_with_integration(gone, uuid.uuid4(), 0)
    assert nothing == (None, None)


async def test_find_with_integration_reads_this_integrations_entry_of_a_shared_document(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A document synced to two integrations has an entry under each, of the same
    generation: each integration reads its own, and one that has none yet reads none,
    not the other's."""
    client = await make_client(sessionmaker)
    first = await make_integration(sessionmaker, client)
    second = await make_integration(sessionmaker, client, system="lexware")
    not_yet = await make_integration(sessionmaker, client, system="yuki")
    document = uuid.uuid4()
    await _write(sessionmaker, first.id, document, 0, remote_id="FIRST")
    await _write(sessionmaker, second.id, document, 0, remote_id="SECOND")
    ledger = Ledger(sessionmaker, "exact")

    for integration, remote_id in ((first, "FIRST"), (second, "SECOND")):
        entry, found = await ledger.find_with_integration(integration.id, document, 0)
        assert found is not None and found.id == integration.id
        assert entry is not None and entry.remote_id == remote_id
        assert entry.integration_id == integration.id
    none_yet, found = await ledger.find_with_integration(not_yet.id, document, 0)
    assert none_yet is None and found is not None and found.id == not_yet.id
