"""Issue 3: one invoice from POST to an Exact booking number, through real processes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from tests.e2e.conftest import connect_exact, wait_for
from tests.support.processes import Stack
from tests.support.servers import serve_in_thread
from tests.support.webhooks import Receiver

pytestmark = pytest.mark.e2e


def invoice_body(client_id: str, number: str, status: str = "booked") -> dict[str, Any]:
    return {
        "client_id": client_id,
        "external_id": f"ext-{number}",
        "number": number,
        "status": status,
        "issue_date": "2026-11-20",
        "due_date": "2026-12-20",
        "currency": "EUR",
        "customer": {
            "external_id": "cust-1",
            "name": "Jansen Installatietechniek",
            "vat_number": "NL001234567B01",
            "country": "NL",
            "address": {
                "street": "Dorpsstraat",
                "house_number": "1",
                "postal_code": "1234 AB",
                "city": "Utrecht",
                "country": "NL",
            },
        },
        "lines": [
            {"description": "Maintenance", "quantity": "2", "unit_price": "75.00", "vat_rate": "21"}
        ],
    }


@pytest.fixture(scope="module")
def exact_client(stack: Stack, partner: httpx.Client) -> dict[str, Any]:
    client = partner.post("/v1/clients", json={"name": "Bakkerij De Vries", "country": "NL"})
    assert client.status_code == 201, client.text
    demo = httpx.get(f"{stack.sandbox_url}/_sandbox/demo").json()["exact"]
    integration = connect_exact(partner, client.json()["id"], demo)
    return {"client": client.json(), "integration": integration, "demo": demo}


@pytest.fixture(scope="module")
def receiver(partner: httpx.Client) -> Iterator[Receiver]:
    """A webhook consumer that verifies every signature with the standardwebhooks library."""
    receiver = Receiver()
    app = Starlette(routes=[Route("/hooks", receiver.handle, methods=["POST"])])
    with serve_in_thread(app) as url:
        created = partner.post(
            "/v1/webhook-endpoints", json={"url": f"{url}/hooks", "events": ["document.booked"]}
        )
        assert created.status_code == 201, created.text
        receiver.secret = created.json()["secret"]
        yield receiver


def test_booked_invoice_gets_exact_entry_number(
    stack: Stack, partner: httpx.Client, exact_client: dict[str, Any], receiver: Receiver
) -> None:
    client_id = exact_client["client"]["id"]
    response = partner.post(
        "/v1/invoices",
        json=invoice_body(client_id, "2026-0001"),
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    assert response.json()["totals"] == {"net": "150.00", "vat": "31.50", "gross": "181.50"}
    invoice_id = response.json()["id"]

    def booked() -> dict[str, Any] | None:
        body = partner.get(f"/v1/invoices/{invoice_id}").json()
        return body if body["sync"] and body["sync"][0]["status"] == "booked" else None

    invoice = wait_for(booked)
    division = exact_client["demo"]["division"]
    state = httpx.get(f"{stack.sandbox_url}/_sandbox/exact/divisions/{division}").json()
    entries = [e for e in state["entries"] if e["your_ref"] == "2026-0001"]
    assert len(entries) == 1
    assert invoice["booking_number"] == str(entries[0]["entry_number"])
    assert invoice["sync"][0]["remote_id"] == entries[0]["entry_id"]

    # The webhook consumer hears of it, signed.
    delivered = wait_for(
        lambda: [r for r in receiver.received if r.event["data"]["document_id"] == invoice_id]
    )
    assert delivered[0].status == 200
    assert delivered[0].event["type"] == "document.booked"
    assert delivered[0].event["data"]["booking_number"] == invoice["booking_number"]


def test_draft_is_stored_and_never_synced(
    partner: httpx.Client, exact_client: dict[str, Any]
) -> None:
    client_id = exact_client["client"]["id"]
    response = partner.post("/v1/invoices", json=invoice_body(client_id, "2026-D1", status="draft"))
    assert response.status_code == 201, response.text
    assert response.json()["sync"] == []
    listed = partner.get("/v1/invoices", params={"client_id": client_id, "status": "draft"}).json()
    assert [d["number"] for d in listed["data"]] == ["2026-D1"]


def test_a_payment_in_exact_shows_after_a_refresh_not_only_nightly(
    stack: Stack, partner: httpx.Client, exact_client: dict[str, Any]
) -> None:
    """Exact's read-back runs nightly; a user asks for it now and sees the payment."""
    client_id = exact_client["client"]["id"]
    posted = partner.post("/v1/invoices", json=invoice_body(client_id, "2026-PAY"))
    assert posted.status_code == 201, posted.text
    invoice_id = posted.json()["id"]
    booked = wait_for(
        lambda: (
            (s := partner.get(f"/v1/invoices/{invoice_id}").json()["sync"][0])["status"] == "booked"
            and s
        )
    )
    division = exact_client["demo"]["division"]
    paid = httpx.post(
        f"{stack.sandbox_url}/_sandbox/exact/divisions/{division}/entries/{booked['remote_id']}"
        "/payment",
        json={},
    )
    assert paid.status_code == 200, paid.text

    integration_id = exact_client["integration"]["id"]
    refreshed = partner.post(f"/v1/integrations/{integration_id}/refresh")
    assert refreshed.status_code == 200, refreshed.text
    # At least the payment; the module's earlier invoices are first seen "open" here too.
    assert refreshed.json()["integration_id"] == integration_id
    assert refreshed.json()["results_emitted"] >= 1
    wait_for(
        lambda: (
            partner.get(f"/v1/invoices/{invoice_id}").json()["sync"][0]["payment_status"] == "paid"
        )
    )
    # Nothing changed since: nothing more to say.
    again = partner.post(f"/v1/integrations/{integration_id}/refresh")
    assert again.json()["results_emitted"] == 0
