"""Reconciliation end to end on the Yuki sandbox, from Yuki's item queries: an invoice
paid in Yuki is a payment difference (it is no longer among the open items, so it is
looked up on its own), the other matches; applying the plan reads the payment back, and
reconciling again finds no difference. Then what a Yuki user types or changes: an invoice
typed by hand like one of ours (Yuki gives it its own number as reference), a copy of one
of ours (our subject, with our marker), an amount changed, a date and a contact changed;
each reported and planned for a person.

The read-back runs hourly here, so the payment is not known until the plan reads it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import document_body, wait_for
from tests.support.integrations import connect, new_client
from tests.support.processes import Stack
from tests.support.reads import read_json

CONNECTORS = ("yuki",)
PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}


def _sync(partner: httpx.Client, invoice_id: str) -> dict[str, Any]:
    (state,) = read_json(partner, f"/v1/invoices/{invoice_id}")["sync"]
    return dict(state)


def _booked(partner: httpx.Client, invoice_id: str) -> None:
    wait_for(lambda: _sync(partner, invoice_id)["status"] == "booked")


def _reconcile(partner: httpx.Client, integration_id: str) -> dict[str, Any]:
    started = partner.post(f"/v1/integrations/{integration_id}/reconciliations", json=PERIOD)
    assert started.status_code == 202, started.text
    url = f"/v1/integrations/{integration_id}/reconciliations/{started.json()['id']}"
    done: dict[str, Any] = wait_for(
        lambda: body if (body := partner.get(url).json())["status"] != "running" else None, 60
    )
    assert done["status"] == "finished", done["failure"]
    return done


def test_a_payment_made_in_yuki_is_reported_read_back_and_then_clean(
    stack: Stack, partner: httpx.Client
) -> None:
    client = connect(stack, partner, new_client(partner, "Afstemming BV", "NL"), "yuki")
    ids = {}
    for number in ("Y-1", "Y-2"):
        body = document_body(client.client_id, number, customer=f"c-{number}")
        ids[number] = partner.post("/v1/invoices", json=body).json()["id"]
    for invoice_id in ids.values():
        _booked(partner, invoice_id)
    paid = httpx.post(
        f"{stack.sandbox_url}/_sandbox/yuki/administrations/{client.books}/payments",
        json={"reference": "Y-2"},
    )
    assert paid.status_code == 200, paid.text

    first = _reconcile(partner, client.integration_id)
    report = first["report"]
    assert report["counts"] == {
        "ours": 2,
        "theirs": 2,
        "matched": 2,
        "not_ours": 0,
        "differences": 1,
    }
    (payment,) = report["payment_differences"]
    assert (payment["id"], payment["number"], payment["ours"], payment["theirs"]) == (
        ids["Y-2"],
        "Y-2",
        "open",
        "paid",
    )
    assert report["mismatched"] == report["missing_in_accounting"] == []
    assert report["totals"]["theirs"]["gross"] == report["totals"]["ours"]["gross"] == "363.00"
    # The open items, and the paid one looked up on its own.
    assert first["calls_used"] == 2

    applied = partner.post(
        f"/v1/integrations/{client.integration_id}/reconciliations/{first['id']}/apply"
    )
    assert applied.status_code == 200, applied.text
    assert [a["outcome"] for a in applied.json()["applied"]] == ["read_back"]
    wait_for(lambda: _sync(partner, ids["Y-2"])["payment_status"] == "paid", 30)
    second = _reconcile(partner, client.integration_id)
    assert second["report"]["counts"]["differences"] == 0, second["report"]


def _control(stack: Stack, books: str, path: str, body: dict[str, Any] | None = None) -> Any:
    url = f"{stack.sandbox_url}/_sandbox/yuki/administrations/{books}/documents{path}"
    done = httpx.request("DELETE" if body is None else "POST", url, json=body)
    assert done.status_code in (200, 201), done.text
    return done.json()


def test_invoices_typed_copied_or_changed_in_yuki_are_each_reported(
    stack: Stack, partner: httpx.Client
) -> None:
    client = connect(stack, partner, new_client(partner, "Handwerk BV", "NL"), "yuki")
    ids = {}
    for number in ("K-1", "K-2", "K-3", "K-4"):
        body = document_body(client.client_id, number, customer=f"c-{number}")
        ids[number] = partner.post("/v1/invoices", json=body).json()["id"]
    for invoice_id in ids.values():
        _booked(partner, invoice_id)
    _control(stack, client.books, "/K-1/edit", {"net_amount": "160.00"})
    _control(stack, client.books, "/K-2/edit", {"date": "2026-11-25", "contact": "Customer c-K-1"})
    _control(stack, client.books, "/K-4")  # deleted, then typed again by hand:
    typed = _control(
        stack,
        client.books,
        "",
        {"contact": "Customer c-K-4", "date": "2026-11-20", "net_amount": "150.00"},
    )
    assert typed["reference"] == typed["booking_number"]  # Yuki's own number
    (original,) = _control_documents(stack, client.books, "K-3")
    copied = _control(
        stack,
        client.books,
        "",
        {
            "contact": "Customer c-K-3",
            "date": "2026-11-20",
            "net_amount": "150.00",
            "subject": original["subject"],  # our marker comes along
        },
    )

    first = _reconcile(partner, client.integration_id)
    report = first["report"]
    assert report["counts"] == {
        "ours": 4,
        "theirs": 5,
        "matched": 3,
        "not_ours": 0,
        "differences": 4,
    }
    (by_hand,) = report["typed_by_hand"]
    assert (by_hand["id"], by_hand["number"], by_hand["remote_id"]) == (
        ids["K-4"],
        "K-4",
        typed["document_id"],
    )
    (unknown,) = report["unknown_in_accounting"]
    assert (unknown["id"], unknown["number"], unknown["remote_id"]) == (
        ids["K-3"],
        "K-3",
        copied["document_id"],
    )
    mismatched = {m["number"]: m for m in report["mismatched"]}
    assert sorted(mismatched) == ["K-1", "K-2"]
    assert mismatched["K-1"]["id"] == ids["K-1"]
    assert mismatched["K-1"]["differences"] == [
        {"field": "gross", "ours": "181.50", "theirs": "193.60"}
    ]
    assert mismatched["K-2"]["id"] == ids["K-2"]
    assert mismatched["K-2"]["differences"] == [
        {"field": "date", "ours": "2026-11-20", "theirs": "2026-11-25"},
        {"field": "customer", "ours": "Customer c-K-2", "theirs": "Customer c-K-1"},
    ]
    assert report["missing_in_accounting"] == report["payment_differences"] == []
    assert report["duplicate_numbers"] == []
    plan = {
        (a["action"], a.get("id"), a.get("remote_id"), a["safe"]) for a in report["repair_plan"]
    }
    assert plan == {
        ("adopt", ids["K-4"], typed["document_id"], False),  # a person confirms the look-alike
        ("flag_for_person", ids["K-3"], copied["document_id"], False),  # a double
        ("flag_for_person", ids["K-1"], mismatched["K-1"]["remote_id"], False),
        ("flag_for_person", ids["K-2"], mismatched["K-2"]["remote_id"], False),
    }
    # The open items, and K-4 (no longer open) looked up on its own.
    assert first["calls_used"] == 2

    applied = partner.post(
        f"/v1/integrations/{client.integration_id}/reconciliations/{first['id']}/apply"
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["applied"] == []
    assert len(applied.json()["left_for_a_person"]) == 4


def _control_documents(stack: Stack, books: str, reference: str) -> list[dict[str, Any]]:
    url = f"{stack.sandbox_url}/_sandbox/yuki/administrations/{books}/documents"
    found: list[dict[str, Any]] = httpx.get(url, params={"reference": reference}).json()
    return found
