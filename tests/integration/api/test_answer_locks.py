"""What an answer being applied waits for, and what it reads once it has waited
(``repository.lock_answered``): its own sync state (and a booking number's holders),
read as locked. Not the integration a sync run is being started for, nor another
document's row: answers keep flowing while those are held."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Document
from invoicesync_api.reconciliations import repository as reconciliations
from invoicesync_api.sync import repository
from invoicesync_api.sync.results import apply
from invoicesync_shared.events.results import DocumentSent, SyncResult
from tests.integration.api.conftest import add_integration, invoice
from tests.integration.api.test_retry_and_lifecycle import sync_row
from tests.integration.api.test_sync_runs import booked
from tests.support.locks import until_it_waits_on_a_lock

BOUND = 20.0  # seconds: a failure shows as a timeout, not a hang


def post(partner: httpx.Client, client_id: str, number: str) -> str:
    response = partner.post("/v1/invoices", json=invoice(client_id, number=number))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def answer_while_held(
    sessionmaker: async_sessionmaker[AsyncSession], blocker: AsyncSession, result: SyncResult
) -> bool:
    """Apply ``result`` while ``blocker`` holds its locks; whether it got through
    without waiting for them (it is let through either way)."""

    async def answer() -> None:
        async with sessionmaker.begin() as session:
            await apply(session, result)

    racing = asyncio.create_task(answer())
    await until_it_waits_on_a_lock(sessionmaker, racing, "%")
    through = racing.done()
    await blocker.commit()
    await asyncio.wait_for(racing, BOUND)
    return through


async def test_an_answer_is_not_held_up_by_a_run_start_holding_its_integration(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A run start holds its integrations' rows while it plans (``lock_integrations``);
    an answer for a document of that integration locks its sync state alone."""
    integration = await add_integration(sessionmaker, client_id)
    document = post(partner, client_id, "HELD-RUN-1")
    sent = DocumentSent(
        document_id=uuid.UUID(document),
        integration_id=integration,
        remote_id="r-sent-1",
        sent_at=datetime.now(UTC),
    )
    async with sessionmaker() as blocker:
        await repository.lock_integrations(blocker, [integration])
        assert await answer_while_held(sessionmaker, blocker, sent)
    assert (await sync_row(sessionmaker, document, integration)).status == "sent"


async def test_a_booking_number_is_not_held_up_by_its_holders_document_being_edited(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The holders of the number are locked as sync states, not as documents: an edit
    holding the holder's document row does not hold up the answer, which still flags
    both."""
    integration = await add_integration(sessionmaker, client_id)
    holder, newcomer = (
        post(partner, client_id, "HELD-DOC-1"),
        post(partner, client_id, "HELD-DOC-2"),
    )
    async with sessionmaker.begin() as session:
        await apply(session, booked(holder, integration, None, "26900041"))
    async with sessionmaker() as blocker:
        await blocker.scalar(
            select(Document.id).where(Document.id == uuid.UUID(holder)).with_for_update()
        )
        number = booked(newcomer, integration, None, "26900041")
        assert await answer_while_held(sessionmaker, blocker, number)
    assert (await sync_row(sessionmaker, newcomer, integration)).duplicate_of == uuid.UUID(holder)
    assert (await sync_row(sessionmaker, holder, integration)).duplicate_of == uuid.UUID(newcomer)


async def test_a_booking_of_a_generation_reset_meanwhile_is_ignored(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A reconciliation's ``push_again`` gives the state a new generation while the old
    generation's booking is being applied. The answer reads the state, then waits for its
    lock: what it checks the generation against is the state as locked, so the old answer
    is ignored and the new request stands (pending, no number)."""
    integration = await add_integration(sessionmaker, client_id)
    document = post(partner, client_id, "RESET-1")
    async with sessionmaker() as blocker:
        state = await reconciliations.lock_sync_state(blocker, uuid.UUID(document), integration)
        row = await blocker.get(Document, uuid.UUID(document))
        assert state is not None and row is not None
        await reconciliations.new_generation(blocker, row, state)
        old = booked(document, integration, None, "26900043")  # generation 0
        assert not await answer_while_held(sessionmaker, blocker, old)
    after = await sync_row(sessionmaker, document, integration)
    assert (after.status, after.generation, after.booking_number) == ("pending", 1, None)
