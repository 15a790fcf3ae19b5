"""Issue 22 item 3: a paused integration resumes by itself once a preview of its next
waiting document passes. The bookkeeper adds the missing VAT code in Exact and does
nothing else: the waiting documents are booked, each once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import connect_exact, document_body, new_exact_division, wait_for
from tests.support.processes import Stack

pytestmark = pytest.mark.e2e
STACK_ENV = {"INVOICESYNC_BRAKE_AUTO_RESUME_SECONDS": "1"}
BATCH = 6
RATE = "7"  # the division's seeded VAT codes are 0, 9 and 21 %


def test_a_paused_integration_resumes_by_itself_once_its_next_document_previews_clean(
    stack: Stack, partner: httpx.Client
) -> None:
    client = partner.post("/v1/clients", json={"name": "Zelfstart BV", "country": "NL"})
    assert client.status_code == 201, client.text
    client_id = client.json()["id"]
    division = new_exact_division(stack)
    integration = connect_exact(partner, client_id, division)
    line = {"description": "Work", "quantity": "1", "unit_price": "100.00", "vat_rate": RATE}
    ids = []
    for n in range(BATCH):
        posted = partner.post(
            "/v1/invoices", json=document_body(client_id, f"AUTO-{n}", lines=[line])
        )
        assert posted.status_code == 201, posted.text
        ids.append(posted.json()["id"])

    def shown() -> dict[str, Any]:
        answer: dict[str, Any] = partner.get(f"/v1/integrations/{integration['id']}").json()
        return answer

    def states() -> list[dict[str, Any]]:
        return [partner.get(f"/v1/invoices/{i}").json()["sync"][0] for i in ids]

    wait_for(lambda: shown()["status"] == "paused", 120)
    # Previews keep failing while the code is missing: it stays paused, nothing is sent.
    waiting = [i for i, s in zip(ids, states(), strict=True) if s["status"] == "pending"]
    assert waiting, "documents wait while paused"
    sandbox = f"{stack.sandbox_url}/_sandbox/exact/divisions/{division['division']}"
    assert httpx.get(sandbox).json()["entries"] == []
    assert shown()["status"] == "paused"

    added = httpx.post(
        f"{sandbox}/vat-codes", json={"code": "5", "description": "VAT 7%", "percentage": "0.07"}
    )
    assert added.status_code == 201, added.text

    def booked() -> list[dict[str, Any]] | None:
        now = [s for i, s in zip(ids, states(), strict=True) if i in waiting]
        return now if all(s["status"] == "booked" for s in now) else None

    done = wait_for(booked, 180)  # the connector reads VAT codes again at most once a minute
    assert shown()["status"] == "active"
    entries = httpx.get(sandbox).json()["entries"]
    assert len(entries) == len(waiting)  # none twice
    assert sorted(e["entry_number"] for e in entries) == sorted(
        int(s["booking_number"]) for s in done
    )
