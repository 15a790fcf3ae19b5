"""Reconciliation end to end on the Lexware sandbox: a November holding every kind of
difference Lexware can have (a draft deleted, a price changed, one paid, one typed by
hand, a double carrying our reference), the report checked line by line; then a person
fixes what is theirs to fix, the plan's safe actions are applied, and reconciling again
finds no difference.

Callbacks are off and the read-back runs hourly, so a payment made in Lexware is not
known to us until the reconciliation's plan reads it back."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import wait_for
from tests.support.integrations import ConnectedClient, connect, invoice_body, new_client
from tests.support.processes import Stack
from tests.support.reads import read_json

CONNECTORS = ("lexware",)
STACK_ENV = {
    "INVOICESYNC_LEXWARE_POLL_INTERVAL_SECONDS": "3600",
    "INVOICESYNC_LEXWARE_CALLBACK_URL": "",
}
PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}
NUMBERS = ("R-1", "R-2", "R-3", "R-4", "R-5")


def _sync(partner: httpx.Client, invoice_id: str) -> dict[str, Any]:
    (state,) = read_json(partner, f"/v1/invoices/{invoice_id}")["sync"]
    return dict(state)


def _sent(partner: httpx.Client, invoice_id: str) -> dict[str, Any]:
    return wait_for(lambda: s if (s := _sync(partner, invoice_id))["status"] == "sent" else None)


def _voucher(stack: Stack, voucher_id: str, step: str, body: Any = None) -> None:
    url = f"{stack.sandbox_url}/_sandbox/lexware/vouchers/{voucher_id}"
    done = httpx.request(
        "DELETE" if step == "delete" else "POST",
        url if step == "delete" else f"{url}/{step}",
        json=body,
    )
    assert done.status_code == 200, done.text


def _typed_by_hand(stack: Stack, client: ConnectedClient, customer: str, intro: str) -> str:
    """A bookkeeper types an invoice in Lexware Office (finalised), with the org's own key."""
    org = httpx.get(f"{stack.sandbox_url}/_sandbox/lexware/organizations/{client.books}").json()
    day = "2026-11-20T00:00:00.000+01:00"
    body = {
        "voucherDate": day,
        "address": {"name": customer, "countryCode": "DE"},
        "lineItems": [
            {
                "type": "custom",
                "name": "Work",
                "quantity": 2,
                "unitName": "Stück",
                "unitPrice": {"currency": "EUR", "netAmount": 75.0, "taxRatePercentage": 19},
            }
        ],
        "totalPrice": {"currency": "EUR"},
        "taxConditions": {"taxType": "net"},
        "shippingConditions": {"shippingDate": day, "shippingType": "service"},
        "introduction": intro,
    }
    created = httpx.post(
        f"{stack.sandbox_url}/lexware/v1/invoices",
        params={"finalize": "true"},
        json=body,
        headers={"Authorization": f"Bearer {org['api_key']}"},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _reconcile(partner: httpx.Client, integration_id: str) -> dict[str, Any]:
    started = partner.post(f"/v1/integrations/{integration_id}/reconciliations", json=PERIOD)
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "running"
    url = f"/v1/integrations/{integration_id}/reconciliations/{started.json()['id']}"

    def over() -> dict[str, Any] | None:
        body = read_json(partner, url)
        return body if body["status"] != "running" else None

    done = wait_for(over, 60)
    assert done["status"] == "finished", done
    return done


def test_a_period_with_every_difference_is_reported_repaired_and_then_clean(
    stack: Stack, partner: httpx.Client
) -> None:
    client = connect(stack, partner, new_client(partner, "Abgleich GmbH", "DE"), "lexware")
    ids: dict[str, str] = {}
    for number in NUMBERS:
        posted = partner.post("/v1/invoices", json=invoice_body(client, number, f"c-{number}"))
        assert posted.status_code == 201, posted.text
        ids[number] = posted.json()["id"]
    remote = {n: str(_sent(partner, ids[n])["remote_id"]) for n in NUMBERS}
    _voucher(stack, remote["R-1"], "delete")  # gone from the books
    _voucher(stack, remote["R-2"], "edit", {"line": 0, "net_amount": 80.0})  # 190.40, not 178.50
    _voucher(stack, remote["R-3"], "finalize")
    _voucher(stack, remote["R-3"], "pay")
    _voucher(stack, remote["R-5"], "delete")
    by_hand = _typed_by_hand(stack, client, "Customer c-R-5", "Typed in by the bookkeeper")
    double = _typed_by_hand(stack, client, "Customer c-R-4", "Referenz / Reference: R-4")

    first = _reconcile(partner, client.integration_id)
    report = first["report"]
    assert report["counts"] == {
        "ours": 5,
        "theirs": 5,
        "matched": 3,
        "not_ours": 0,
        "differences": 5,
    }
    # 178.50 per invoice; R-2 is 190.40 there; R-1 is gone; R-5's look-alike and R-4's
    # double are 178.50 each.
    assert report["totals"]["ours"] == {"net": "750.00", "vat": {"19": "142.50"}, "gross": "892.50"}
    assert report["totals"]["theirs"]["gross"] == "904.40"
    assert [(m["id"], m["number"]) for m in report["missing_in_accounting"]] == [
        (ids["R-1"], "R-1")
    ]
    (typed,) = report["typed_by_hand"]
    assert (typed["id"], typed["number"], typed["remote_id"]) == (ids["R-5"], "R-5", by_hand)
    (unknown,) = report["unknown_in_accounting"]
    assert (unknown["id"], unknown["remote_id"], unknown["reference"]) == (
        ids["R-4"],
        double,
        "R-4",
    )
    (mismatch,) = report["mismatched"]
    assert (mismatch["id"], mismatch["number"]) == (ids["R-2"], "R-2")
    assert mismatch["differences"] == [{"field": "gross", "ours": "178.50", "theirs": "190.40"}]
    (payment,) = report["payment_differences"]
    assert (payment["id"], payment["ours"], payment["theirs"]) == (ids["R-3"], "open", "paid")
    assert report["number_gaps"] == [] and report["duplicate_numbers"] == []
    plan = {(a["action"], a.get("id"), a["safe"]) for a in report["repair_plan"]}
    assert plan == {
        ("push_again", ids["R-1"], True),
        ("adopt", ids["R-5"], False),
        ("flag_for_person", ids["R-4"], False),
        ("flag_for_person", ids["R-2"], False),
        ("refresh", ids["R-3"], True),
    }
    # One voucherlist page, and only the two vouchers our ledger does not know opened.
    assert first["calls_used"] == report["calls_used"] == 3
    assert first["progress"] == {"entries_read": 5, "calls_used": 3}
    notes = partner.get("/v1/notifications", params={"client_id": client.client_id}).json()
    assert [n["reconciliation_id"] for n in notes if n["kind"] == "reconciliation_differences"] == [
        first["id"]
    ]

    # A person fixes what is theirs: the price back, the look-alike and the double voided.
    _voucher(stack, remote["R-2"], "edit", {"line": 0, "net_amount": 75.0})
    _voucher(stack, by_hand, "void")
    _voucher(stack, double, "void")
    second = _reconcile(partner, client.integration_id)
    assert [m["id"] for m in second["report"]["missing_in_accounting"]] == [ids["R-1"], ids["R-5"]]
    assert second["report"]["mismatched"] == [] and second["report"]["typed_by_hand"] == []
    applied = partner.post(
        f"/v1/integrations/{client.integration_id}/reconciliations/{second['id']}/apply"
    )
    assert applied.status_code == 200, applied.text
    outcomes = {(a["action"], a["id"], a["outcome"]) for a in applied.json()["applied"]}
    assert outcomes == {
        ("push_again", ids["R-1"], "requested"),
        ("push_again", ids["R-5"], "requested"),
        ("refresh", ids["R-3"], "read_back"),
    }
    again = partner.post(
        f"/v1/integrations/{client.integration_id}/reconciliations/{second['id']}/apply"
    )
    assert again.status_code == 409, again.text
    for number in ("R-1", "R-5"):
        _sent(partner, ids[number])
    wait_for(lambda: _sync(partner, ids["R-3"])["payment_status"] == "paid", 30)

    third = _reconcile(partner, client.integration_id)
    assert third["report"]["counts"]["differences"] == 0, third["report"]
    assert third["report"]["counts"]["not_ours"] == 2  # the two voided ones
    assert third["report"]["totals"]["theirs"]["gross"] == "892.50"
