"""GET /v1/invoices filters: each narrows the list to what it names, and only that; the
sync states of a document come in the order its integrations were made."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.db.models import Integration
from tests.integration.api.conftest import add_integration, invoice, listed_ids, new_partner
from tests.integration.api.test_sync_runs import booked, deliver


async def test_each_filter_lists_what_it_names(
    partner: httpx.Client,
    client_id: str,
    api_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    exact = await add_integration(sessionmaker, client_id)

    def post(number: str, **overrides: str) -> str:
        response = partner.post("/v1/invoices", json=invoice(client_id, number, **overrides))
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    early = post("FLT-1", issue_date="2026-11-01")
    # Made before the Yuki integration existed: it has no Yuki sync.
    yuki = await add_integration(sessionmaker, client_id, system="yuki")
    middle = post("FLT-2", issue_date="2026-11-15")
    late = post("FLT-3", issue_date="2026-11-30", status="draft")
    credit_note = partner.post(
        "/v1/credit-notes", json=invoice(client_id, "FLT-CN", credit_note_for=middle)
    )
    assert credit_note.status_code == 201, credit_note.text
    with new_partner(api_url, "Other partner") as other:
        theirs = other.post("/v1/clients", json={"name": "Theirs", "country": "NL"}).json()["id"]
        foreign = other.post("/v1/invoices", json=invoice(theirs, "FLT-1")).json()["id"]
    await deliver(sessionmaker, booked(middle, exact, None, "EX-FLT-2"))
    ids = [early, middle, late, credit_note.json()["id"], foreign]

    def listed(**filters: str) -> set[str]:
        return listed_ids(partner, ids, **filters)

    assert listed() == {early, middle, late}  # not the credit note, not another partner's
    assert listed(status="draft") == {late}
    assert listed(status="booked") == {early, middle}
    assert listed(issued_from="2026-11-15") == {middle, late}
    assert listed(issued_to="2026-11-15") == {early, middle}
    assert listed(issued_from="2026-11-02", issued_to="2026-11-29") == {middle}
    assert listed(sync_status="booked") == {middle}
    assert listed(booking_number="EX-FLT-2") == {middle}
    assert listed(booking_number="EX-OTHER") == set()
    assert listed(system="yuki") == listed(system="yuki", client_id=client_id)
    assert middle in listed(system="yuki") and early not in listed(system="yuki")
    assert listed(system="lexware") == set()

    shown = partner.get(f"/v1/invoices/{middle}").json()
    assert [(s["system"], s["status"]) for s in shown["sync"]][:1] == [("exact", "booked")]
    assert [s["system"] for s in shown["sync"]] == ["exact", "yuki"]
    # The order is the integrations' (not the order the sync states were written in).
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Integration)
            .where(Integration.id == yuki)
            .values(created_at=func.now() - timedelta(days=365))
        )
    shown = partner.get(f"/v1/invoices/{middle}").json()
    assert [s["system"] for s in shown["sync"]] == ["yuki", "exact"]
