"""Results are applied concurrently: two documents given the same booking number at the
same moment must both be flagged, although each transaction looks before the other
has committed."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import DocumentSync
from invoicesync_api.sync.results import apply
from tests.integration.api.conftest import add_integration, invoice
from tests.integration.api.test_sync_runs import booked

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
        await asyncio.wait({racing}, timeout=1.0)  # it waits for the lock, or it is through
    await asyncio.wait_for(racing, BOUND)

    async with sessionmaker() as session:
        rows = await session.execute(
            select(DocumentSync.document_id, DocumentSync.duplicate_of).where(
                DocumentSync.integration_id == integration
            )
        )
        flagged = {document_id: duplicate_of for document_id, duplicate_of in rows}
    assert flagged == {uuid.UUID(first): uuid.UUID(second), uuid.UUID(second): uuid.UUID(first)}
