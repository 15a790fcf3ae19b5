"""The order in which one statement takes its row locks (``FOR UPDATE`` with ``ORDER BY``),
seen without racing: a blocker holds the row that comes second in that order; the
statement, started meanwhile, waits for it; a probe then asks for the row that comes
first without waiting. Taken in order, the statement holds that row already while it
waits; taken in the order the plan reaches the rows, it would still be free.

Two statements that lock the same rows in one set order never wait for each other in a
circle; in the plan's order they may, and one fails on a deadlock. The rows are laid out
so that the plan reaches them against the required order (the row needed last is stored
first), and the statement runs with plans PostgreSQL picks for it at other sizes (no
plain index scan, whose order could hide the difference; a bitmap or sequential scan
reads rows as stored)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
from sqlalchemy import Select, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Document, DocumentSync
from invoicesync_api.sync import repository
from invoicesync_api.sync.results import apply
from invoicesync_shared.db.models import Integration
from tests.integration.api.conftest import add_integration, invoice
from tests.integration.api.test_sync_runs import booked

# A database of this module's own: in the run's shared one, vacuumed pages earlier in a
# table have room, and a row rewritten behind the others may land there instead.
from tests.support.databases import own_database_url, own_engine, own_sessionmaker  # noqa: F401
from tests.support.locks import until_it_waits_on_a_lock
from tests.support.row_order import OTHER_PLANS, stored_in_order

BOUND = 20.0  # seconds: a failure shows as a timeout, not a hang
LOCK_NOT_AVAILABLE = "55P03"


async def first_held_while_second_awaited(
    sessionmaker: async_sessionmaker[AsyncSession],
    statement: Callable[[AsyncSession], Awaitable[object]],
    statement_like: str,
    first: Select[Any],
    second: Select[Any],
) -> bool:
    """Whether ``statement`` holds the row ``first`` selects while it waits for the row
    ``second`` selects (held here meanwhile); it is let through either way."""

    async def under_test() -> None:
        async with sessionmaker.begin() as session:
            for setting in OTHER_PLANS:
                await session.execute(text(setting))
            await statement(session)

    async with sessionmaker() as blocker:
        assert (await blocker.execute(second.with_for_update())).first() is not None
        running = asyncio.create_task(under_test())
        await until_it_waits_on_a_lock(sessionmaker, running, statement_like)
        assert not running.done(), "the statement did not wait for the row held"
        async with sessionmaker() as probe:
            try:
                await probe.execute(first.with_for_update(nowait=True))
                held = False
            except DBAPIError as error:
                if getattr(error.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                    raise
                held = True
            await probe.rollback()
        await blocker.commit()
    await asyncio.wait_for(running, BOUND)
    return held


def post(partner: httpx.Client, client_id: str, number: str) -> uuid.UUID:
    response = partner.post("/v1/invoices", json=invoice(client_id, number=number))
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


def state(document_id: uuid.UUID, integration_id: uuid.UUID) -> Select[Any]:
    return select(DocumentSync.document_id).where(
        DocumentSync.document_id == document_id, DocumentSync.integration_id == integration_id
    )


def touch_state(document_id: uuid.UUID, integration_id: uuid.UUID) -> Any:
    return (
        update(DocumentSync)
        .where(
            DocumentSync.document_id == document_id,
            DocumentSync.integration_id == integration_id,
        )
        .values(sweeps=DocumentSync.sweeps)
    )


async def test_a_run_start_locks_its_integrations_by_id(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Two run starts naming the same integrations take them in one order (by id), so
    neither holds one while waiting for the other's."""
    low, high = sorted([await add_integration(sessionmaker, client_id) for _ in range(2)])

    def row(integration_id: uuid.UUID) -> Select[Any]:
        return select(Integration.id).where(Integration.id == integration_id)

    def touch(i: int) -> Any:
        moved = [high, low][i]
        return (
            update(Integration)
            .where(Integration.id == moved)
            .values(nightly_hour=Integration.nightly_hour)
        )

    await stored_in_order(sessionmaker, [row(high), row(low)], touch)

    async def start(session: AsyncSession) -> None:
        await repository.lock_integrations(session, [high, low])

    assert await first_held_while_second_awaited(
        sessionmaker, start, "SELECT integrations.%", first=row(low), second=row(high)
    )


async def two_documents_in_two_integrations(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> tuple[tuple[uuid.UUID, uuid.UUID], tuple[uuid.UUID, uuid.UUID]]:
    """Two documents and two integrations (each pair by id), a sync state for each
    document in each integration."""
    integrations = sorted([await add_integration(sessionmaker, client_id) for _ in range(2)])
    documents = sorted(post(partner, client_id, f"ORDERED-{n}") for n in range(2))
    async with sessionmaker() as session:
        states = await session.scalars(
            select(DocumentSync.integration_id).where(DocumentSync.document_id.in_(documents))
        )
        assert len(states.all()) == 4
    (low, high), (first, second) = integrations, documents
    return (first, second), (low, high)


async def run_holds_first_while_second_awaited(
    sessionmaker: async_sessionmaker[AsyncSession],
    documents: Sequence[uuid.UUID],
    first: Select[Any],
    second: Select[Any],
) -> bool:
    """Whether a run's read of its documents' states (``settled_pairs``, as ``service``
    plans it) holds the state ``first`` selects while it waits for ``second``'s."""

    async def run(session: AsyncSession) -> None:
        rows = [await session.get(Document, d) for d in documents]
        await repository.settled_pairs(session, {row: [] for row in rows if row is not None})

    return await first_held_while_second_awaited(
        sessionmaker,
        run,
        "SELECT document_syncs.document_id, document_syncs.integration_id%",
        first=first,
        second=second,
    )


async def test_a_run_locks_its_documents_states_document_by_document(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A run locks every state of its first document before any of the next
    (``settled_pairs``): an answer locks its states in document order too
    (``lock_answered``). Here the second document's state in the first integration is
    held: the first document's state in the second integration is locked by then."""
    (first, second), (low, high) = await two_documents_in_two_integrations(
        partner, client_id, sessionmaker
    )

    assert await run_holds_first_while_second_awaited(
        sessionmaker, [first, second], first=state(first, high), second=state(second, low)
    )


async def test_a_run_locks_one_documents_states_by_integration(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Within one document too, a run takes the states in one order (by integration),
    whatever order they are stored in."""
    (first, second), (low, high) = await two_documents_in_two_integrations(
        partner, client_id, sessionmaker
    )
    await stored_in_order(
        sessionmaker,
        [state(first, high), state(first, low)],
        lambda i: touch_state(first, [high, low][i]),
    )

    assert await run_holds_first_while_second_awaited(
        sessionmaker, [first, second], first=state(first, low), second=state(first, high)
    )


async def test_an_answer_locks_its_state_and_the_numbers_holders_in_document_order(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A booking number's holders and the answer's own state are locked in document
    order, as a run locks them: here the answer's document comes second and is stored
    first, and its state is held; the holder's is locked by then."""
    integration = await add_integration(sessionmaker, client_id)
    holder, newcomer = sorted(post(partner, client_id, f"ANSWERED-{n}") for n in range(2))
    async with sessionmaker.begin() as session:
        await apply(session, booked(str(holder), integration, None, "26900071"))

    def document(document_id: uuid.UUID) -> Select[Any]:
        return select(Document.id).where(Document.id == document_id)

    def touch_document(document_id: uuid.UUID) -> Any:
        return update(Document).where(Document.id == document_id).values(revision=Document.revision)

    # Whichever table a join reads first, it meets the newcomer first.
    await stored_in_order(
        sessionmaker,
        [state(newcomer, integration), state(holder, integration)],
        lambda i: touch_state([newcomer, holder][i], integration),
    )
    await stored_in_order(
        sessionmaker,
        [document(newcomer), document(holder)],
        lambda i: touch_document([newcomer, holder][i]),
    )

    async def answer(session: AsyncSession) -> None:
        await repository.lock_answered(session, newcomer, integration, booking_number="26900071")

    assert await first_held_while_second_awaited(
        sessionmaker,
        answer,
        "SELECT document_syncs.%",
        first=state(holder, integration),
        second=state(newcomer, integration),
    )
