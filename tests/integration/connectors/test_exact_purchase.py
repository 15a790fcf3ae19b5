"""Exact purchase documents through the runtime against the sandbox: what the read-back
makes of purchase entries, and a purchase document without a file."""

from __future__ import annotations

import httpx

from invoicesync_shared.events.audit import RemoteEntryMissing
from invoicesync_shared.events.results import BookingAssigned, SyncFailed
from tests.integration.connectors.exact_support import World


async def test_the_audit_does_not_take_booked_purchase_entries_for_deleted_ones(
    world: World,
) -> None:
    """The deletion audit reads our journals: a purchase entry lives in the purchase
    journal (PurchaseEntries), not among the sales entries, and is not missing."""
    await world.send(world.document("S-1"))
    await world.send(world.document("AP-1", kind="purchase_invoice"))
    await world.send(world.document("R-1", kind="receipt"))
    assert len(world.results(BookingAssigned.TYPE)) == 3, world.results(SyncFailed.TYPE)

    await world.one.readback.refresh_now(world.integration.id)

    assert world.results(RemoteEntryMissing.TYPE) == []
    assert len(world.state()["purchase_entries"]) == 2


async def test_a_purchase_document_without_a_file_is_booked_without_an_exact_document(
    world: World,
) -> None:
    await world.send(world.document("AP-2", kind="purchase_credit_note"))

    [booked] = world.results(BookingAssigned.TYPE)
    state = world.state()
    [entry] = state["purchase_entries"]
    assert (booked["remote_id"], entry["type"], entry["document"]) == (entry["entry_id"], 31, None)
    assert state["documents"] == []


async def test_a_purchase_preview_shows_the_purchase_entry_and_the_supplier_it_would_make(
    world: World,
) -> None:
    """The failure brake's auto-resume may preview a purchase document: it must see the
    purchase entry a push would post, never a sales entry."""
    sale = world.document("S-2")
    await world.send(sale)  # a customer of the same id and name
    document = world.document("AP-3", kind="purchase_invoice", customer=sale.customer)

    answer = await world.one.runtime.preview(world.integration.id, document)

    assert answer.problems == []
    assert isinstance(answer.payload, dict)
    assert (answer.payload["Journal"], answer.payload["Type"]) == ("60", 30)
    assert answer.payload["Supplier"] is None and "Customer" not in answer.payload
    [line] = answer.payload["PurchaseEntryLines"]
    cost_accounts = {g["id"] for g in world.state()["gl_accounts"] if g["type"] != 110}
    assert line["GLAccount"] in cost_accounts
    assert answer.customer is not None and answer.customer.action == "would_create"
    assert answer.customer.payload is not None and answer.customer.payload["IsSupplier"] is True


async def test_the_audit_reports_a_purchase_entry_deleted_in_exact(world: World) -> None:
    await world.send(world.document("AP-4", kind="purchase_invoice"))
    await world.send(world.document("AP-5", kind="purchase_invoice"))
    gone, kept = world.results(BookingAssigned.TYPE)
    deleted = httpx.delete(
        f"{world.sandbox_url}/exact/api/v1/{world.code}/purchaseentry/"
        f"PurchaseEntries(guid'{gone['remote_id']}')",
        headers={"Authorization": f"Bearer {world.token['access_token']}"},
    )
    assert deleted.status_code == 204, deleted.text

    await world.one.readback.refresh_now(world.integration.id)

    [missing] = world.results(RemoteEntryMissing.TYPE)
    assert missing["document_id"] == gone["document_id"] != kept["document_id"]
