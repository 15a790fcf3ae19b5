"""Exact purchase documents through the runtime against the sandbox: what the read-back
makes of purchase entries, a purchase document without a file, and refusals that name the
supplier and the purchase journal."""

from __future__ import annotations

from decimal import Decimal

import httpx
from sqlalchemy import delete

from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.models import CustomerLink
from invoicesync_shared.events.audit import RemoteEntryMissing
from invoicesync_shared.events.documents import CustomerData
from invoicesync_shared.events.results import BookingAssigned, PaymentStatusChanged, SyncFailed
from tests.integration.connectors.exact_support import (
    Sessions,
    World,
    arm_fault,
    connect,
    control,
    odd_vat_line,
    replica,
)
from tests.support.factories import with_stored_file


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


def _vat_codes_of_twelve_percent(world: World) -> None:
    """As a bookkeeper may keep them: a VAT-including code (Type B) and a blocked code
    for both sides first, then a code only for sales and one only for purchases (Exact's
    VATTransactionType S and P)."""
    codes = (("3", "B", "B", False), ("4", "E", "B", True), ("5", "E", "S", False))
    for code, kind, side, blocked in (*codes, ("6", "E", "P", False)):
        body = {
            "code": code,
            "description": f"12 % {side}",
            "percentage": "0.12",
            "type": kind,
            "transaction_type": side,
            "blocked": blocked,
        }
        control(world.sandbox_url, "POST", f"/exact/divisions/{world.code}/vat-codes", json=body)


async def test_each_side_gets_an_unblocked_vat_code_it_may_use(world: World) -> None:
    _vat_codes_of_twelve_percent(world)
    line = odd_vat_line().model_copy(
        update={"vat_rate": Decimal("12"), "vat_amount": Decimal("12.00")}
    )

    await world.send(world.document("S-12", lines=[line]))
    await world.send(world.document("AP-12", kind="purchase_invoice", lines=[line]))

    assert len(world.results(BookingAssigned.TYPE)) == 2, world.results(SyncFailed.TYPE)
    [sale] = world.entries()
    [purchase] = world.state()["purchase_entries"]
    assert [x["vat_code"].strip() for x in sale["lines"]] == ["5"]
    assert [x["vat_code"].strip() for x in purchase["lines"]] == ["6"]


async def test_a_rate_with_only_a_sales_code_fails_a_purchase_naming_purchases(
    world: World,
) -> None:
    body = {"code": "7", "description": "13 % S", "percentage": "0.13", "transaction_type": "S"}
    control(world.sandbox_url, "POST", f"/exact/divisions/{world.code}/vat-codes", json=body)
    line = odd_vat_line().model_copy(
        update={"vat_rate": Decimal("13"), "vat_amount": Decimal("13.00")}
    )

    await world.send(world.document("AP-13", kind="purchase_invoice", lines=[line]))

    [failure] = world.results(SyncFailed.TYPE)
    assert failure["code"] == "unknown_vat_code"
    assert "purchases" in str(failure["message"])
    assert world.state()["purchase_entries"] == []


async def test_a_sale_after_a_purchase_from_the_same_company_goes_on_a_customer_account(
    world: World,
) -> None:
    """Each side matches among its own accounts: a customer of the name and VAT number of
    a supplier booked first gets a customer account of its own, never the supplier's (a
    sales entry on a supplier account is a debtor merged into a creditor)."""
    company = CustomerData(external_id="7", name="Acme BV", vat_number="NL001", country="NL")
    await world.send(world.document("AP-6", kind="purchase_invoice", customer=company))
    await world.send(world.document("S-6", customer=company))
    assert len(world.results(BookingAssigned.TYPE)) == 2, world.results(SyncFailed.TYPE)

    state = world.state()
    accounts = {a["id"]: a for a in state["accounts"]}
    [entry] = [e for e in state["entries"] if "S-6" in (e.get("description") or "")]
    [purchase] = state["purchase_entries"]
    customer, supplier = accounts[entry["customer"]], accounts[purchase["supplier"]]
    assert customer["id"] != supplier["id"]
    assert (customer["status"], customer["is_supplier"]) == ("C", False)
    assert (supplier["status"], supplier["is_supplier"]) == ("A", True)


async def test_a_customer_whose_code_exact_gave_a_supplier_is_made_without_it(
    world: World, sessionmaker: Sessions
) -> None:
    """Exact numbers a new supplier (we give it no code) from the division's one list of
    codes, which also holds our customers' ids as codes: customer 1 after supplier "1"
    is made without a code (Exact numbers it), never booked on the supplier's account
    nor refused for the code forever."""
    supplier = CustomerData(external_id="sup-9", name="Supplies BV", country="NL")
    await world.send(world.document("AP-7", kind="purchase_invoice", customer=supplier))
    state = world.state()
    [made] = [a for a in state["accounts"] if a["is_supplier"]]
    code = made["code"].strip()
    customer = CustomerData(external_id=code, name="Customer BV", country="NL")
    await world.send(world.document("S-7", customer=customer))
    assert len(world.results(BookingAssigned.TYPE)) == 2, world.results(SyncFailed.TYPE)

    accounts = {a["id"]: a for a in world.state()["accounts"]}
    [entry] = [e for e in world.state()["entries"] if "S-7" in (e.get("description") or "")]
    booked_on = accounts[entry["customer"]]
    assert booked_on["id"] != made["id"]
    assert (booked_on["name"], booked_on["status"]) == ("Customer BV", "C")
    assert booked_on["code"].strip() != code

    # The code Exact gave that customer is another customer's id: that one is not ours,
    # even before the account's link is saved (a lost answer, a replica racing): its
    # Remarks say whose it is.
    async with sessionmaker.begin() as session:
        await session.execute(delete(CustomerLink).where(CustomerLink.remote_id == booked_on["id"]))
    following = CustomerData(
        external_id=booked_on["code"].strip(), name="Following BV", country="NL"
    )
    await world.send(world.document("S-8", customer=following))
    assert len(world.results(BookingAssigned.TYPE)) == 3, world.results(SyncFailed.TYPE)
    accounts = {a["id"]: a for a in world.state()["accounts"]}
    [entry] = [e for e in world.state()["entries"] if "S-8" in (e.get("description") or "")]
    assert accounts[entry["customer"]]["name"] == "Following BV"


async def test_a_retry_on_another_replica_reuses_the_document_an_earlier_try_filed(
    world: World, sessionmaker: Sessions, secret_box: SecretBox
) -> None:
    """The entry's 429s (refused, nothing written) outlast the retries in place: the
    document and its attachment stay filed in Exact, the failure is shown. The retry, on
    another replica (no memory of it), finds that document by our marker and books the
    entry on it: one document with one attachment, never an unlinked second one."""
    arm_fault(world.sandbox_url, "purchaseentry/PurchaseEntries", "http_429", count=4)
    document = await with_stored_file(sessionmaker, world.document("AP-8", kind="purchase_invoice"))
    await world.send(document)
    [failed] = world.results(SyncFailed.TYPE)
    assert failed["code"] == "unavailable", failed
    [filed] = world.state()["documents"]

    other = replica(world.sandbox_url, sessionmaker, secret_box)
    world.others.append(other)
    await world.send(document, via=other)

    [booked] = [e.data for e in other.producer.of_type(BookingAssigned.TYPE)]
    state = world.state()
    [entry] = state["purchase_entries"]
    assert booked["remote_id"] == entry["entry_id"]
    assert [d["id"] for d in state["documents"]] == [filed["id"]] == [entry["document"]]
    assert len(state["documents"][0]["attachments"]) == 1


async def test_a_purchase_from_a_supplier_blocked_in_exact_names_the_supplier(
    world: World,
) -> None:
    """Exact's refusal reads "Blocked" alike for both sides; a bookkeeper reads of the
    supplier on a purchase document (the sales code and text speak of a customer)."""
    await world.send(world.document("AP-20", kind="purchase_invoice"))
    [supplier] = world.state()["accounts"]
    block = f"/exact/divisions/{world.code}/accounts/{supplier['id']}/block"
    control(world.sandbox_url, "POST", block, json={"blocked": True})

    await world.send(world.document("AP-21", kind="purchase_invoice"))
    answer = await world.one.runtime.preview(
        world.integration.id, world.document("AP-22", kind="purchase_invoice")
    )

    [failure] = world.results(SyncFailed.TYPE)
    assert (failure["code"], failure["retryable"]) == ("supplier_blocked", False)
    assert [(p.code, p.field) for p in answer.problems] == [("supplier_blocked", "supplier")]
    assert len(world.state()["purchase_entries"]) == 1


async def test_a_missing_purchase_journal_names_the_purchase_journal(
    shared_sandbox_url: str, sessionmaker: Sessions, secret_box: SecretBox
) -> None:
    world = await connect(
        shared_sandbox_url, sessionmaker, secret_box, settings={"purchase_journal": "99"}
    )
    try:
        document = world.document("AP-23", kind="purchase_invoice")
        answer = await world.one.runtime.preview(world.integration.id, document)
        await world.send(document)
        await world.send(world.document("S-23"))  # the sales journal is there
        failures = world.results(SyncFailed.TYPE)
        booked = world.results(BookingAssigned.TYPE)
    finally:
        await world.close(sessionmaker)
    assert [(p.code, p.field) for p in answer.problems] == [
        ("purchase_journal_missing", "settings.purchase_journal")
    ]
    assert [(f["code"], f["retryable"]) for f in failures] == [("purchase_journal_missing", False)]
    assert len(booked) == 1


async def test_a_purchase_invoice_paid_to_its_supplier_is_read_back_as_paid(
    world: World,
) -> None:
    """Purchase entries are settled in cashflow/Payments (Status 50, matched), read only
    while one of ours is unpaid: a round after it is paid costs no call there."""
    await world.send(world.document("AP-30", kind="purchase_invoice"))
    await world.send(world.document("S-30"))
    purchase, sale = world.results(BookingAssigned.TYPE)

    await world.one.readback.refresh_now(world.integration.id)
    assert _payments(world) == {purchase["document_id"]: ["open"], sale["document_id"]: ["open"]}

    pay = f"/exact/divisions/{world.code}/entries/{purchase['remote_id']}/payment"
    paid = control(world.sandbox_url, "POST", pay, json={})
    assert (paid["is_fully_paid"], paid["payment_status"]) == (True, 50)
    await world.one.readback.refresh_now(world.integration.id)
    assert _payments(world) == {
        purchase["document_id"]: ["open", "paid"],
        sale["document_id"]: ["open"],
    }

    calls = world.one.sent.calls
    await world.one.readback.refresh_now(world.integration.id)
    # Both entry pages and the receivables: no purchase entry is unpaid any more.
    assert world.one.sent.calls - calls == 3
    assert len(world.results(PaymentStatusChanged.TYPE)) == 3


def _payments(world: World) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for change in world.results(PaymentStatusChanged.TYPE):
        seen.setdefault(str(change["document_id"]), []).append(str(change["payment_status"]))
    return seen
