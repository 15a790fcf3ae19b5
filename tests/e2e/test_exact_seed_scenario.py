"""Issue 4's seed scenario: numbers handed out twice after entries are deleted in Exact,
detected automatically and repaired with one call — no double booking, no customer twice."""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    connect_exact,
    delete_entries,
    document_body,
    exact_token_for_test_app,
    new_exact_division,
    wait_for,
)
from tests.support.processes import Stack

pytestmark = pytest.mark.e2e


def division_state(stack: Stack, division: int) -> dict[str, Any]:
    return dict(httpx.get(f"{stack.sandbox_url}/_sandbox/exact/divisions/{division}").json())


def settled(
    partner: httpx.Client, path: str, document_id: str, status: str = "booked"
) -> dict[str, Any] | None:
    body = partner.get(f"{path}/{document_id}").json()
    return body if body["sync"] and body["sync"][0]["status"] == status else None


def test_duplicate_numbers_are_detected_and_repaired_in_one_call(
    stack: Stack, partner: httpx.Client
) -> None:
    division = new_exact_division(stack)
    client_id = partner.post("/v1/clients", json={"name": "PestScan BV", "country": "NL"}).json()[
        "id"
    ]
    integration = connect_exact(partner, client_id, division)

    # A manual run over what is there is empty; then five invoices and a credit note.
    invoices = [
        partner.post(
            "/v1/invoices",
            json=document_body(
                client_id, f"INV-{n}", issue_date=f"2026-11-0{n}", customer=f"cust-{n % 2}"
            ),
        ).json()["id"]
        for n in range(1, 6)
    ]
    credit = partner.post(
        "/v1/credit-notes",
        json=document_body(client_id, "CN-1", issue_date="2026-11-06", credit_note_for=invoices[0]),
    ).json()["id"]
    for doc in invoices:
        wait_for(functools.partial(settled, partner, "/v1/invoices", doc))
    wait_for(lambda: settled(partner, "/v1/credit-notes", credit))
    state = division_state(stack, division["division"])
    assert len(state["entries"]) == 6
    assert len(state["accounts"]) == 2  # two customers, each created once

    # A bookkeeper deletes the two newest entries in Exact, with another Exact client.
    token = exact_token_for_test_app(stack)
    newest = sorted(state["entries"], key=lambda e: e["entry_number"])[-2:]
    delete_entries(stack, division["division"], token, newest)

    # The next invoice gets a number that a document here still holds.
    new = partner.post(
        "/v1/invoices", json=document_body(client_id, "INV-6", issue_date="2026-11-07")
    ).json()["id"]
    booked = wait_for(lambda: settled(partner, "/v1/invoices", new))
    assert booked["booking_number"] == str(newest[0]["entry_number"])
    assert booked["sync"][0]["duplicate_of"] is not None
    notice = wait_for(
        lambda: [
            n
            for n in partner.get("/v1/notifications").json()
            if n["kind"] == "duplicate_booking_number"
        ]
    )
    assert "INV-6" in notice[0]["body"]

    # One call repairs it.
    repaired = partner.post(f"/v1/integrations/{integration['id']}/repair", json={})
    assert repaired.status_code == 200, repaired.text
    run_id = repaired.json()["sync_run"]["id"]
    assert repaired.json()["integration"]["status"] == "active"
    run = wait_for(
        lambda: (r := partner.get(f"/v1/sync-runs/{run_id}").json())["status"] == "finished" and r
    )
    assert run["totals"]["documents_failed"] == 0, run["errors"]

    # Every document has a unique booking number equal to the sandbox's EntryNumber.
    final = division_state(stack, division["division"])
    by_ref = {e["your_ref"]: e for e in final["entries"]}
    assert Counter(e["your_ref"] for e in final["entries"]).most_common(1)[0][1] == 1
    documents = [partner.get(f"/v1/invoices/{d}").json() for d in [*invoices, new]]
    documents.append(partner.get(f"/v1/credit-notes/{credit}").json())
    numbers = [d["booking_number"] for d in documents]
    assert len(set(numbers)) == len(numbers) == 7, numbers
    for document in documents:
        assert document["booking_number"] == str(by_ref[document["number"]]["entry_number"])
        assert document["sync"][0]["duplicate_of"] is None
    assert len(final["accounts"]) == 2  # no customer created twice, also after the relink

    # The manual repair run ended in exactly one notification with its counts.
    finished = [n for n in partner.get("/v1/notifications").json() if n["sync_run_id"] == run_id]
    assert len(finished) == 1
    assert finished[0]["counts"]["documents_synced"] == run["totals"]["documents_synced"]


def test_settings_change_partially_and_are_checked_in_exact(
    stack: Stack, partner: httpx.Client
) -> None:
    division = new_exact_division(stack)
    client_id = partner.post("/v1/clients", json={"name": "Settings BV", "country": "NL"}).json()[
        "id"
    ]
    integration = connect_exact(partner, client_id, division)
    path = f"/v1/integrations/{integration['id']}"

    refused = partner.patch(path, json={"settings": {"sales_journal": "99"}})
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "connection_failed"
    kept = partner.get(path).json()
    assert (kept["status"], kept["settings"]["sales_journal"]) == (
        "active",
        division["sales_journal"],
    )

    patched = partner.patch(
        path, json={"settings": {"credit_note_journal": division["sales_journal"]}}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"] == "active"
    assert patched.json()["settings"]["credit_note_journal"] == division["sales_journal"]
    assert patched.json()["settings"]["division"] == division["division"]

    relinked = partner.post(
        f"{path}/relink",
        json={"settings": {"credit_note_journal": division["credit_note_journal"]}},
    )
    assert relinked.status_code == 200, relinked.text
    settings = relinked.json()["settings"]
    assert settings["credit_note_journal"] == division["credit_note_journal"]
    assert settings["sales_journal"] == division["sales_journal"]  # kept, not required
    doc = partner.post(
        "/v1/invoices", json=document_body(client_id, "SET-1", issue_date="2026-11-20")
    ).json()["id"]
    wait_for(functools.partial(settled, partner, "/v1/invoices", doc))
