"""Through the public API: an Exact entry typed by hand with our invoice number, date,
total and customer, and a push whose outcome is unknown. The document is neither adopted
(it may be another one) nor sent again (it may be this one): it shows ``ambiguous`` with
``ambiguous_match`` and what the bookkeeper should check."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    connect_exact,
    document_body,
    exact_token_for_test_app,
    new_exact_division,
    wait_for,
)
from tests.support.processes import Stack

pytestmark = pytest.mark.e2e


def _sync(partner: httpx.Client, document_id: str, status: str) -> dict[str, Any] | None:
    body = partner.get(f"/v1/invoices/{document_id}").json()
    return body["sync"][0] if body["sync"] and body["sync"][0]["status"] == status else None


def _entries(stack: Stack, division: int, reference: str) -> list[dict[str, Any]]:
    state = httpx.get(f"{stack.sandbox_url}/_sandbox/exact/divisions/{division}").json()
    return [e for e in state["entries"] if e["your_ref"] == reference]


def test_an_entry_typed_by_hand_makes_the_document_ambiguous_not_booked(
    stack: Stack, partner: httpx.Client
) -> None:
    division = new_exact_division(stack)
    code = division["division"]
    client_id = partner.post("/v1/clients", json={"name": "Hand BV", "country": "NL"}).json()["id"]
    connect_exact(partner, client_id, division)
    warm = partner.post("/v1/invoices", json=document_body(client_id, "WARM-1")).json()["id"]
    wait_for(lambda: _sync(partner, warm, "booked"))
    [template] = _entries(stack, code, "WARM-1")  # the customer, GL account and VAT code

    # A bookkeeper types INV-H into Exact by hand: same customer, date and amounts.
    token = exact_token_for_test_app(stack)
    line = template["lines"][0]
    typed = httpx.post(
        f"{stack.sandbox_url}/exact/api/v1/{code}/salesentry/SalesEntries",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        json={
            "Journal": division["sales_journal"],
            "Customer": template["customer"],
            "EntryDate": "2026-11-20T00:00:00Z",
            "YourRef": "INV-H",
            "Description": "Typed by hand",
            "Type": 20,
            "SalesEntryLines": [
                {
                    "GLAccount": line["gl_account"],
                    "AmountFC": line["amount"],
                    "VATAmountFC": line["vat_amount"],
                    "VATCode": line["vat_code"],
                }
            ],
        },
    )
    assert typed.status_code == 201, typed.text
    by_hand = typed.json()["d"]
    # Our push then times out unapplied: its outcome is unknown, so it is looked up.
    armed = httpx.post(
        f"{stack.sandbox_url}/_sandbox/faults",
        json={
            "system": "exact",
            "path_pattern": "salesentry/SalesEntries",
            "kind": "timeout",
            "count": 1,
            "method": "POST",
        },
    )
    assert armed.status_code < 300, armed.text

    doc = partner.post("/v1/invoices", json=document_body(client_id, "INV-H")).json()["id"]

    sync = wait_for(lambda: _sync(partner, doc, "ambiguous"))
    assert sync["error"]["code"] == "ambiguous_match"
    assert f"entry {by_hand['EntryNumber']}" in sync["error"]["message"]
    assert [e["entry_id"] for e in _entries(stack, code, "INV-H")] == [by_hand["EntryID"]]
    assert partner.get(f"/v1/invoices/{doc}").json()["booking_number"] is None
