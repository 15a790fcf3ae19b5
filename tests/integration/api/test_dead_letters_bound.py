"""The dead letters are listed and replayed 5,000 at a time, the oldest first: a listing
stays one response a person can read, a replay one transaction of bounded size. What is
left over is not lost: once the first 5,000 are on their way, the rest come next."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, cast

import httpx
from sqlalchemy import Table, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Document, DocumentSync
from tests.integration.api.conftest import add_integration, invoice
from tests.integration.api.test_sync_runs import gave_up

BOUND = 5000  # dead letters per listing and per replay
REPLAY_TIMEOUT = 120.0  # seconds: 5,000 replays in one request


async def copies_of(
    sessionmaker: async_sessionmaker[AsyncSession], template: uuid.UUID, count: int
) -> None:
    """``count`` copies of the dead-lettered document ``template`` and its sync states,
    made in SQL (5,000 through the API would take minutes), numbered ``<its number>-<n>``
    and each created a second earlier than the one before: all older than the template."""
    documents, states = (cast(Table, m.__table__) for m in (Document, DocumentSync))
    copy = func.generate_series(1, count).table_valued("n").render_derived("copy")
    suffix = func.concat("-", copy.c.n)
    replaced: dict[str, Any] = {
        "id": func.gen_random_uuid(),
        "number": func.concat(documents.c.number, suffix),
        "external_id": func.concat(documents.c.external_id, suffix),
        "created_at": documents.c.created_at - copy.c.n * literal(timedelta(seconds=1)),
    }
    columns = [c.name for c in documents.columns]
    copied = (
        select(*(replaced.get(c, documents.c[c]).label(c) for c in columns))
        .select_from(documents.join(copy, literal(True)))
        .where(documents.c.id == template)
        .cte("copied")
    )
    state_columns = [c.name for c in states.columns]
    async with sessionmaker.begin() as session:
        await session.execute(
            states.insert().from_select(
                state_columns,
                select(*(copied.c.id if c == "document_id" else states.c[c] for c in state_columns))
                .select_from(copied.join(states, states.c.document_id == template))
                .add_cte(documents.insert().from_select(columns, select(copied)).cte("made")),
            )
        )


def numbers(partner: httpx.Client) -> list[str]:
    response = partner.get("/v1/dead-letters")
    assert response.status_code == 200, response.text
    return [letter["number"] for letter in response.json()]


async def test_dead_letters_are_listed_and_replayed_five_thousand_at_a_time_oldest_first(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration = await add_integration(sessionmaker, client_id)
    newest = partner.post("/v1/invoices", json=invoice(client_id, number="DL-BOUND"))
    assert newest.status_code == 201, newest.text
    await gave_up(sessionmaker, newest.json()["id"], integration, "unavailable")
    await copies_of(sessionmaker, uuid.UUID(newest.json()["id"]), BOUND)  # 5,001 in all

    oldest_first = [f"DL-BOUND-{n}" for n in range(BOUND, 0, -1)]
    assert numbers(partner) == oldest_first  # the newest waits for the next listing

    # 5,000 replays in one request: seconds alone, more on a loaded machine (as under mutmut)
    replayed = partner.post("/v1/dead-letters/replay", json={}, timeout=REPLAY_TIMEOUT)
    assert replayed.status_code == 202, replayed.text
    assert replayed.json() == {"documents": BOUND, "deliveries": BOUND}
    assert numbers(partner) == ["DL-BOUND"]  # the 5,000 oldest are on their way

    rest = partner.post("/v1/dead-letters/replay", json={}, timeout=REPLAY_TIMEOUT)
    assert rest.json() == {"documents": 1, "deliveries": 1}
    assert numbers(partner) == []
