"""Reconciliation end to end on the Yuki sandbox, from Yuki's item queries: an invoice
paid in Yuki is a payment difference (it is no longer among the open items, so it is
looked up on its own), the other matches; applying the plan reads the payment back, and
reconciling again finds no difference.

The read-back runs hourly here, so the payment is not known until the plan reads it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import document_body, wait_for
from tests.support.integrations import connect, new_client
from tests.support.processes import Stack

CONNECTORS = ("yuki",)
PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}


def _sync(partner: httpx.Client, invoice_id: str) -> dict[str, Any]:
    (state,) = partner.get(f"/v1/invoices/{invoice_id}").json()["sync"]
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
