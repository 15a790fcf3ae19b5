"""``booking_number=null`` lists the documents no integration gave a booking number. The
answer is kept on the document (a partial index finds it, however long the client's
history) as booking numbers arrive and as a reset takes them away."""

from __future__ import annotations

from datetime import date

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.integrations import repository as integrations
from invoicesync_shared.db.models import Integration
from tests.integration.api.conftest import add_integration, invoice, listed_ids
from tests.integration.api.test_sync_runs import booked, deliver


async def test_not_synced_anywhere_follows_booking_numbers_and_resets(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    exact = await add_integration(sessionmaker, client_id)
    yuki = await add_integration(sessionmaker, client_id, system="yuki")
    ids = [
        partner.post("/v1/invoices", json=invoice(client_id, number=f"UNB-{n}")).json()["id"]
        for n in range(3)
    ]

    def unsynced() -> set[str]:
        return listed_ids(partner, ids, client_id=client_id, booking_number="null")

    assert unsynced() == set(ids)
    await deliver(sessionmaker, booked(ids[0], exact, None, "UNB-E1"))
    await deliver(sessionmaker, booked(ids[1], exact, None, "UNB-E2"))
    await deliver(sessionmaker, booked(ids[1], yuki, None, "UNB-Y2"))
    assert unsynced() == {ids[2]}

    # Exact's states are reset: the first loses its only number, the second keeps Yuki's.
    async with sessionmaker.begin() as session:
        integration = await session.get(Integration, exact)
        assert integration is not None
        await integrations.reset_from(session, integration, date(2000, 1, 1))
    assert unsynced() == {ids[0], ids[2]}
    shown = partner.get(f"/v1/invoices/{ids[1]}").json()
    assert shown["booking_number"] == "UNB-Y2"
