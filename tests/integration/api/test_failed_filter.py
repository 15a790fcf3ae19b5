"""``sync_status=failed`` lists the documents with a failed sync from a count the
database keeps on the document (a partial index finds them, however long the client's
history), whichever path changes a sync's status: a failure result, a retry, a booking
that follows, a direct update."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Document, DocumentSync
from tests.integration.api.conftest import add_integration, invoice, listed_ids
from tests.integration.api.test_monotonic_sync import failure
from tests.integration.api.test_sync_runs import booked, deliver


async def test_failed_follows_every_change_of_a_sync_status(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    exact = await add_integration(sessionmaker, client_id)
    yuki = await add_integration(sessionmaker, client_id, system="yuki")
    created = [
        partner.post("/v1/invoices", json=invoice(client_id, number=f"FLD-{n}")) for n in range(3)
    ]
    assert all(r.status_code == 201 for r in created), created[0].text
    ids = [r.json()["id"] for r in created]

    def failed() -> set[str]:
        return listed_ids(partner, ids, client_id=client_id, sync_status="failed")

    async def counts() -> dict[str, tuple[int, int]]:
        """Per document: the kept count and the failed sync rows there are."""
        async with sessionmaker() as session:
            kept = dict(
                (str(i), n)
                for i, n in await session.execute(
                    select(Document.id, Document.failed_syncs).where(
                        Document.id.in_([uuid.UUID(i) for i in ids])
                    )
                )
            )
            rows = (
                await session.scalars(
                    select(DocumentSync.document_id).where(DocumentSync.status == "failed")
                )
            ).all()
        return {i: (kept[i], sum(str(r) == i for r in rows)) for i in ids}

    assert failed() == set()
    await deliver(sessionmaker, failure(ids[0], exact, "unknown_vat_code", retryable=False))
    await deliver(sessionmaker, failure(ids[0], yuki, "unknown_vat_code", retryable=False))
    await deliver(sessionmaker, failure(ids[1], exact, "unknown_vat_code", retryable=False))
    assert failed() == {ids[0], ids[1]}
    assert await counts() == {ids[0]: (2, 2), ids[1]: (1, 1), ids[2]: (0, 0)}

    # A retry sends the first again in both: no longer failed.
    retried = partner.post(f"/v1/invoices/{ids[0]}/retry")
    assert retried.status_code == 202, retried.text
    assert failed() == {ids[1]}

    # The second, sent again, is booked; the third fails by a direct update of its rows.
    assert partner.post(f"/v1/invoices/{ids[1]}/retry").status_code == 202
    await deliver(sessionmaker, booked(ids[1], exact, None, "FLD-E1"))
    async with sessionmaker.begin() as session:
        await session.execute(
            update(DocumentSync)
            .where(DocumentSync.document_id == uuid.UUID(ids[2]))
            .values(status="failed", error_code="unavailable", error_retryable=True)
        )
    assert failed() == {ids[2]}
    assert await counts() == {ids[0]: (0, 0), ids[1]: (0, 0), ids[2]: (2, 2)}
