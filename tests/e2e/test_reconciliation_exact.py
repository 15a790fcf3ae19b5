"""Reconciliation end to end on the Exact sandbox: an entry deleted by a bookkeeper (its
number then handed out again to our next invoice) and an entry paid in Exact, reported
line by line from two paged reads; the plan applied (the deleted one sent again, looked
up first; payments read back); reconciling again finds no difference. Then what a
bookkeeper types or changes in Exact: an entry typed by hand that looks like one of ours
(with their own "your ref"), a copy of one of ours (its reference and marker), an amount
changed, a date and a customer changed; each reported and planned for a person.

The read-back runs daily here, so the payment is not known until the plan reads it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import (
    connect_exact,
    document_body,
    exact_token_for_test_app,
    new_exact_division,
    wait_for,
)
from tests.support.processes import Stack
from tests.support.reads import read_json

PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}


def _sync(partner: httpx.Client, invoice_id: str) -> dict[str, Any]:
    (state,) = read_json(partner, f"/v1/invoices/{invoice_id}")["sync"]
    return dict(state)


def _booked(partner: httpx.Client, invoice_id: str) -> dict[str, Any]:
    return wait_for(lambda: s if (s := _sync(partner, invoice_id))["status"] == "booked" else None)


def _reconcile(partner: httpx.Client, integration_id: str) -> dict[str, Any]:
    started = partner.post(f"/v1/integrations/{integration_id}/reconciliations", json=PERIOD)
    assert started.status_code == 202, started.text
    url = f"/v1/integrations/{integration_id}/reconciliations/{started.json()['id']}"
    done: dict[str, Any] = wait_for(
        lambda: body if (body := partner.get(url).json())["status"] != "running" else None, 60
    )
    assert done["status"] == "finished", done
    return done


def test_a_deleted_and_a_paid_entry_are_reported_applied_and_then_clean(
    stack: Stack, partner: httpx.Client
) -> None:
    division = new_exact_division(stack)
    code = division["division"]
    client_id = partner.post("/v1/clients", json={"name": "Afstem BV", "country": "NL"}).json()[
        "id"
    ]
    integration = connect_exact(partner, client_id, division)
    ids = {}
    for n in (1, 2, 3):
        body = document_body(client_id, f"E-{n}", issue_date=f"2026-11-0{n}", customer=f"c{n}")
        ids[f"E-{n}"] = partner.post("/v1/invoices", json=body).json()["id"]
    entries = {number: _booked(partner, doc) for number, doc in ids.items()}

    paid = httpx.post(
        f"{stack.sandbox_url}/_sandbox/exact/divisions/{code}/entries/"
        f"{entries['E-2']['remote_id']}/payment",
        json={},
    )
    assert paid.status_code == 200, paid.text
    token = exact_token_for_test_app(stack)
    deleted = httpx.delete(
        f"{stack.sandbox_url}/exact/api/v1/{code}/salesentry/"
        f"SalesEntries(guid'{entries['E-3']['remote_id']}')",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    assert deleted.status_code == 204, deleted.text
    body = document_body(client_id, "E-4", issue_date="2026-11-04", customer="c4")
    ids["E-4"] = partner.post("/v1/invoices", json=body).json()["id"]
    entries["E-4"] = _booked(partner, ids["E-4"])
    number = entries["E-3"]["booking_number"]
    assert entries["E-4"]["booking_number"] == number  # Exact handed it out again

    first = _reconcile(partner, integration["id"])
    report = first["report"]
    assert report["counts"] == {
        "ours": 4,
        "theirs": 3,
        "matched": 3,
        "not_ours": 0,
        "differences": 3,
    }
    assert report["totals"]["ours"]["gross"] == "726.00"  # 4 times 181.50
    assert report["totals"]["theirs"]["gross"] == "544.50"
    assert report["totals"]["theirs"]["vat"] == {}  # not detailed: no lines read
    assert [(m["id"], m["number"]) for m in report["missing_in_accounting"]] == [
        (ids["E-3"], "E-3")
    ]
    (payment,) = report["payment_differences"]
    assert (payment["id"], payment["number"], payment["theirs"]) == (ids["E-2"], "E-2", "paid")
    (duplicate,) = report["duplicate_numbers"]
    assert duplicate["number"] == number
    assert [(e["id"], e["number"]) for e in duplicate["entries"]] == [
        (ids["E-4"], "E-4"),
        (ids["E-3"], "E-3"),
    ]
    assert report["mismatched"] == report["unknown_in_accounting"] == []
    assert report["typed_by_hand"] == report["number_gaps"] == []
    # One page of SalesEntries and one of Receivables.
    assert first["calls_used"] == 2

    applied = partner.post(
        f"/v1/integrations/{integration['id']}/reconciliations/{first['id']}/apply"
    )
    assert applied.status_code == 200, applied.text
    assert {(a["action"], a["outcome"]) for a in applied.json()["applied"]} == {
        ("push_again", "requested"),
        ("refresh", "read_back"),
    }
    assert [a["action"] for a in applied.json()["left_for_a_person"]] == [
        "run_duplicate_number_repair"
    ]
    again = _booked(partner, ids["E-3"])
    assert again["booking_number"] != number
    wait_for(lambda: _sync(partner, ids["E-2"])["payment_status"] == "paid", 30)

    second = _reconcile(partner, integration["id"])
    assert second["report"]["counts"]["differences"] == 0, second["report"]
    assert second["report"]["totals"]["theirs"]["gross"] == "726.00"


def _control(stack: Stack, division: int, path: str, body: dict[str, Any]) -> dict[str, Any]:
    done = httpx.post(f"{stack.sandbox_url}/_sandbox/exact/divisions/{division}/{path}", json=body)
    assert done.status_code in (200, 201), done.text
    return dict(done.json())


def test_entries_typed_copied_or_changed_by_a_bookkeeper_are_each_reported(
    stack: Stack, partner: httpx.Client
) -> None:
    division = new_exact_division(stack)
    code = division["division"]
    client_id = partner.post("/v1/clients", json={"name": "Handwerk BV", "country": "NL"}).json()[
        "id"
    ]
    integration = connect_exact(partner, client_id, division)
    ids: dict[str, str] = {}
    entries: dict[str, dict[str, Any]] = {}
    for n in (1, 2, 3, 4):
        body = document_body(client_id, f"H-{n}", issue_date=f"2026-11-0{n}", customer=f"c{n}")
        ids[f"H-{n}"] = partner.post("/v1/invoices", json=body).json()["id"]
        entries[f"H-{n}"] = _booked(partner, ids[f"H-{n}"])
    remote = {number: str(entry["remote_id"]) for number, entry in entries.items()}
    journal = str(division["sales_journal"])

    _control(stack, code, f"entries/{remote['H-1']}/edit", {"net_amount": "160.00"})
    _control(
        stack,
        code,
        f"entries/{remote['H-2']}/edit",
        {"entry_date": "2026-11-12", "customer": "Customer c1"},
    )
    # H-4 deleted, then typed again by hand: same customer, day and amount, their own ref.
    token = exact_token_for_test_app(stack)
    deleted = httpx.delete(
        f"{stack.sandbox_url}/exact/api/v1/{code}/salesentry/SalesEntries(guid'{remote['H-4']}')",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    assert deleted.status_code == 204, deleted.text
    typed = _control(
        stack,
        code,
        "entries",
        {
            "journal": journal,
            "customer": "Customer c4",
            "entry_date": "2026-11-04",
            "net_amount": "150.00",
            "your_ref": "PO 4471",
            "description": "Werkzaamheden november",
        },
    )
    # A copy of H-3 made in Exact: its reference and description (our marker) come along.
    state = httpx.get(f"{stack.sandbox_url}/_sandbox/exact/divisions/{code}").json()
    (original,) = [e for e in state["entries"] if e["entry_id"] == remote["H-3"]]
    copied = _control(
        stack,
        code,
        "entries",
        {
            "journal": journal,
            "customer": "Customer c3",
            "entry_date": "2026-11-03",
            "net_amount": "150.00",
            "your_ref": original["your_ref"],
            "description": original["description"],
        },
    )

    first = _reconcile(partner, integration["id"])
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
        ids["H-4"],
        "H-4",
        typed["entry_id"],
    )
    (unknown,) = report["unknown_in_accounting"]
    assert (unknown["id"], unknown["number"], unknown["remote_id"], unknown["reference"]) == (
        ids["H-3"],
        "H-3",
        copied["entry_id"],
        "H-3",
    )
    mismatched = {m["number"]: m for m in report["mismatched"]}
    assert sorted(mismatched) == ["H-1", "H-2"]
    assert mismatched["H-1"]["id"] == ids["H-1"]
    assert mismatched["H-1"]["differences"] == [
        {"field": "gross", "ours": "181.50", "theirs": "193.60"},
        {"field": "net", "ours": "150.00", "theirs": "160.00"},  # Exact's header has VAT
    ]
    assert mismatched["H-2"]["id"] == ids["H-2"]
    assert mismatched["H-2"]["differences"] == [
        {"field": "date", "ours": "2026-11-02", "theirs": "2026-11-12"},
        {"field": "customer", "ours": "Customer c2", "theirs": "Customer c1"},
    ]
    assert report["missing_in_accounting"] == report["payment_differences"] == []
    assert report["number_gaps"] == report["duplicate_numbers"] == []
    plan = {
        (a["action"], a.get("id"), a.get("remote_id"), a["safe"]) for a in report["repair_plan"]
    }
    assert plan == {
        ("adopt", ids["H-4"], typed["entry_id"], False),  # a person confirms the look-alike
        ("flag_for_person", ids["H-3"], copied["entry_id"], False),  # a double
        ("flag_for_person", ids["H-1"], remote["H-1"], False),
        ("flag_for_person", ids["H-2"], remote["H-2"], False),
    }
    assert first["calls_used"] == 2  # still one page of SalesEntries, one of Receivables

    applied = partner.post(
        f"/v1/integrations/{integration['id']}/reconciliations/{first['id']}/apply"
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["applied"] == []
    assert len(applied.json()["left_for_a_person"]) == 4
