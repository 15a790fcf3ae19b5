"""Results are applied concurrently: two documents given the same booking number at the
same moment must both be flagged, although each transaction looks before the other
has committed."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Document, DocumentSync, Notification
from invoicesync_api.sync import repository
from invoicesync_api.sync.results import apply
from tests.integration.api.conftest import add_integration, invoice
from tests.integration.api.test_sync_runs import booked
from tests.support.locks import until_it_waits_on_a_lock

BOUND = 20.0  # seconds: a failure shows as a timeout, not a hang


async def test_the_same_number_given_twice_at_once_flags_both_documents(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration = await add_integration(sessionmaker, client_id)
    first, second = (
        partner.post("/v1/invoices", json=invoice(client_id, number=n)).json()["id"]
        for n in ("TWIN-1", "TWIN-2")
    )

    async def apply_second() -> None:
        async with sessionmaker.begin() as session:
            await apply(session, booked(second, integration, None, "26900007"))

    async with sessionmaker.begin() as session:  # the first result, not committed yet
        await apply(session, booked(first, integration, None, "26900007"))
        racing = asyncio.create_task(apply_second())
        # It waits for the number's lock (in its read of the sync states, a statement too
        # long for pg_stat_activity to show the lock's name); without it, it is through.
        await until_it_waits_on_a_lock(sessionmaker, racing, "SELECT document_syncs.%")
    await asyncio.wait_for(racing, BOUND)

    async with sessionmaker() as session:
        rows = await session.execute(
            select(DocumentSync.document_id, DocumentSync.duplicate_of).where(
                DocumentSync.integration_id == integration
            )
        )
        flagged = {document_id: duplicate_of for document_id, duplicate_of in rows}
    assert flagged == {uuid.UUID(first): uuid.UUID(second), uuid.UUID(second): uuid.UUID(first)}


async def test_a_holder_answered_again_while_its_number_goes_to_another_does_not_deadlock(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The number's lock is taken before any sync state's row lock. Otherwise the holder's
    answer (its own row locked, then waiting for the number) and a newcomer's (the number
    held, then locking the holder as a holder) wait for each other."""
    integration = await add_integration(sessionmaker, client_id)
    holder, newcomer = (
        partner.post("/v1/invoices", json=invoice(client_id, number=n)).json()["id"]
        for n in ("HELD-1", "HELD-2")
    )
    async with sessionmaker.begin() as session:
        await apply(session, booked(holder, integration, None, "26900011"))

    async def answer(document_id: str) -> None:
        async with sessionmaker.begin() as session:
            await apply(session, booked(document_id, integration, None, "26900011"))

    # The number's lock held here, so both answers queue behind it in a known order: the
    # newcomer first (it takes the number first), then the holder's answer re-emitted.
    key = repository.number_key(integration, "26900011")
    async with sessionmaker.begin() as blocker:
        await blocker.execute(
            select(func.pg_advisory_xact_lock(repository.DUPLICATE_LOCK_SPACE, func.hashtext(key)))
        )
        first = asyncio.create_task(answer(newcomer))
        await until_waiting(sessionmaker, 1)
        second = asyncio.create_task(answer(holder))
        await until_waiting(sessionmaker, 2)
    await asyncio.wait_for(asyncio.gather(first, second), BOUND)

    async with sessionmaker() as session:
        rows = await session.execute(
            select(DocumentSync.document_id, DocumentSync.duplicate_of).where(
                DocumentSync.integration_id == integration
            )
        )
        flagged = {document_id: duplicate_of for document_id, duplicate_of in rows}
    assert flagged == {
        uuid.UUID(newcomer): uuid.UUID(holder),
        uuid.UUID(holder): uuid.UUID(newcomer),
    }


async def test_the_number_given_to_two_at_once_while_a_third_holds_it_flags_all_three(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The first newcomer holds the number's lock and waits for the holder's row (held
    here); the second waits for the number, holding no row, and looks once the first
    has committed: it finds both others."""
    integration = await add_integration(sessionmaker, client_id)
    holder, first, second = (
        partner.post("/v1/invoices", json=invoice(client_id, number=n)).json()["id"]
        for n in ("THIRD-1", "THIRD-2", "THIRD-3")
    )
    async with sessionmaker.begin() as session:
        await apply(session, booked(holder, integration, None, "26900013"))

    async def answer(document_id: str) -> None:
        async with sessionmaker.begin() as session:
            await apply(session, booked(document_id, integration, None, "26900013"))

    async with sessionmaker.begin() as blocker:  # the holder's row, locked
        await blocker.get(DocumentSync, (uuid.UUID(holder), integration), with_for_update=True)
        racing = [asyncio.create_task(answer(first))]
        await until_waiting(sessionmaker, 1)
        racing.append(asyncio.create_task(answer(second)))
        await until_waiting(sessionmaker, 2)
    await asyncio.wait_for(asyncio.gather(*racing), BOUND)

    async with sessionmaker() as session:
        rows = await session.execute(
            select(DocumentSync.document_id, DocumentSync.duplicate_of).where(
                DocumentSync.integration_id == integration
            )
        )
        flagged = {document_id: duplicate_of for document_id, duplicate_of in rows}
        notices = await session.scalars(
            select(Notification.counts).where(
                Notification.client_id == uuid.UUID(client_id),
                Notification.kind == "duplicate_booking_number",
            )
        )
        named = sorted(counts["documents"] for counts in notices)
    ids = {uuid.UUID(d) for d in (holder, first, second)}
    assert all(flagged[d] in ids - {d} for d in ids), flagged
    assert flagged[uuid.UUID(holder)] == uuid.UUID(first)
    assert named == [2, 3]  # the second's notice names all three


async def test_a_run_naming_a_holder_and_a_newcomer_being_answered_does_not_deadlock(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A run locks its documents' sync states in document order; the newcomer's answer
    locks its state and the holder's in that order too. Otherwise (its own first) the
    run, holding the holder and waiting for the newcomer, and the answer wait in a
    circle, and the run fails as busy."""
    integration = await add_integration(sessionmaker, client_id)
    holder, newcomer = sorted(  # the run locks the holder first
        partner.post("/v1/invoices", json=invoice(client_id, number=n)).json()["id"]
        for n in ("ORDER-1", "ORDER-2")
    )
    async with sessionmaker.begin() as session:
        await apply(session, booked(holder, integration, None, "26900017"))

    async def answer() -> None:
        async with sessionmaker.begin() as session:
            await apply(session, booked(newcomer, integration, None, "26900017"))

    # The newcomer's document row held here: its answer stops at its document's UPDATE
    # (its states locked by then), while the run starts and locks the states it can.
    async with sessionmaker.begin() as blocker:
        await blocker.scalar(
            select(Document.id).where(Document.id == uuid.UUID(newcomer)).with_for_update()
        )
        racing = asyncio.create_task(answer())
        await until_waiting(sessionmaker, 1)
        body = {"document_ids": [holder, newcomer]}
        run = asyncio.create_task(asyncio.to_thread(partner.post, "/v1/sync-runs", json=body))
        await until_waiting(sessionmaker, 2)
    await asyncio.wait_for(racing, BOUND)
    started = await asyncio.wait_for(run, BOUND)

    assert started.status_code == 202, started.text
    assert started.json()["totals"]["documents_synced"] == 2  # the answer waited for
    async with sessionmaker() as session:
        rows = await session.execute(
            select(DocumentSync.document_id, DocumentSync.duplicate_of).where(
                DocumentSync.integration_id == integration
            )
        )
        flagged = {document_id: duplicate_of for document_id, duplicate_of in rows}
    assert flagged == {
        uuid.UUID(newcomer): uuid.UUID(holder),
        uuid.UUID(holder): uuid.UUID(newcomer),
    }


async def until_waiting(sessionmaker: async_sessionmaker[AsyncSession], count: int) -> None:
    """Return once ``count`` transactions of this database wait for a lock."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with asyncio.timeout(BOUND):
        while True:
            async with sessionmaker() as watcher:  # a new snapshot of the activity
                if await watcher.scalar(waiting) >= count:
                    return
            await asyncio.sleep(0.01)  # polling a condition, not waiting out a race
