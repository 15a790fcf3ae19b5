"""One client with Exact, Lexware and Yuki at once: each integration has its own state,
and a manual run ends in one notification counting all of them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import connect_exact, document_body, new_exact_division, wait_for
from tests.support.processes import Stack

pytestmark = pytest.mark.e2e
CONNECTORS = ("exact", "lexware", "yuki")


def states(partner: httpx.Client, document_id: str) -> dict[str, dict[str, Any]]:
    return {s["system"]: s for s in partner.get(f"/v1/invoices/{document_id}").json()["sync"]}


@pytest.fixture(scope="module")
def client_with_three(stack: Stack, partner: httpx.Client) -> dict[str, Any]:
    client = partner.post(
        "/v1/clients",
        json={
            "name": "Schädlingsbekämpfung Nord GmbH",
            "country": "DE",
            "vat_number": "DE123456789",
            "address": {
                "street": "Hafenstraße",
                "house_number": "4",
                "postal_code": "20457",
                "city": "Hamburg",
                "country": "DE",
            },
        },
    ).json()
    integrations = {"exact": connect_exact(partner, client["id"], new_exact_division(stack))}
    # Lexware: the user is sent to Lexware's authorization request and allows access.
    lexware = partner.post(f"/v1/clients/{client['id']}/integrations", json={"system": "lexware"})
    assert lexware.status_code == 201 and lexware.json()["status"] == "pending_authorization"
    assert (
        httpx.get(lexware.json()["authorize_url"], follow_redirects=True, timeout=60).status_code
        == 200
    )
    integrations["lexware"] = partner.get(f"/v1/integrations/{lexware.json()['id']}").json()
    assert integrations["lexware"]["status"] == "active", integrations["lexware"]["status_reason"]
    # Yuki: the access key is checked at once.
    administration = httpx.post(
        f"{stack.sandbox_url}/_sandbox/yuki/administrations", json={}
    ).json()
    refused = partner.post(
        f"/v1/clients/{client['id']}/integrations",
        json={
            "system": "yuki",
            "settings": {
                "access_key": "wrong",
                "administration_id": administration["administration_id"],
            },
        },
    )
    assert (
        refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    )
    yuki = partner.post(
        f"/v1/clients/{client['id']}/integrations",
        json={
            "system": "yuki",
            "settings": {
                "access_key": administration["access_key"],
                "administration_id": administration["administration_id"],
            },
        },
    )
    assert yuki.status_code == 201, yuki.text
    assert yuki.json()["status"] == "active" and "access_key" not in str(yuki.json())
    integrations["yuki"] = yuki.json()
    # The Dutch books refuse this German client's 19 % on purpose, more than three times
    # in a row: these tests are about each system's own state, not the failure brake
    # (tests/e2e/test_failure_brake.py), so it is set out of their way.
    for integration in integrations.values():
        patched = partner.patch(
            f"/v1/integrations/{integration['id']}", json={"failure_brake_after": 1000}
        )
        assert patched.status_code == 200, patched.text
    return {"client": client, "integrations": integrations, "administration": administration}


def german_customer(number: str) -> dict[str, Any]:
    return {
        "external_id": f"kunde-{number}",
        "name": "Bäckerei Schmidt",
        "country": "DE",
        "email": "buchhaltung@baeckerei-schmidt.de",
        "address": {
            "street": "Marktplatz",
            "house_number": "1",
            "postal_code": "20095",
            "city": "Hamburg",
            "country": "DE",
        },
    }


def test_one_invoice_reaches_all_three_with_its_own_state(
    stack: Stack, partner: httpx.Client, client_with_three: dict[str, Any]
) -> None:
    client_id = client_with_three["client"]["id"]
    body = document_body(client_id, "RE-1001", customer="k1")
    body["customer"] = german_customer("1")
    body["lines"][0]["vat_rate"] = "19"
    invoice = partner.post("/v1/invoices", json=body).json()["id"]

    def settled_states() -> dict[str, dict[str, Any]] | None:
        now = states(partner, invoice)
        return now if all(now[k]["status"] != "pending" for k in CONNECTORS) else None

    settled = wait_for(settled_states)
    # 19 % is a German rate: the Dutch books refuse it, each with its own reason.
    for dutch in ("exact", "yuki"):
        assert settled[dutch]["status"] == "failed"
        assert settled[dutch]["error"]["code"] == "unknown_vat_code"
        assert settled[dutch]["error"]["retryable"] is False
        assert "19" in settled[dutch]["error"]["message"]
    assert settled["lexware"]["status"] == "sent"
    assert settled["lexware"]["booking_number"] is None and settled["lexware"]["sent_at"]
    # Lexware drafts get their number when someone finalises them in Lexware.
    finalised = httpx.post(
        f"{stack.sandbox_url}/_sandbox/lexware/vouchers/{settled['lexware']['remote_id']}/finalize"
    )
    assert finalised.status_code == 200, finalised.text
    booked = wait_for(
        lambda: s if (s := states(partner, invoice))["lexware"]["status"] == "booked" else None
    )
    assert booked["lexware"]["booking_number"] == finalised.json()["voucherNumber"]
    assert {s["integration_id"] for s in booked.values()} == {
        i["id"] for i in client_with_three["integrations"].values()
    }


def test_a_manual_run_makes_one_notification_counting_every_integration(
    partner: httpx.Client, client_with_three: dict[str, Any]
) -> None:
    client_id = client_with_three["client"]["id"]
    chosen = []
    for n in range(2, 5):
        body = document_body(client_id, f"RE-100{n}", customer=f"k{n}", status="draft")
        body["customer"] = german_customer(str(n))
        body["lines"][0]["vat_rate"] = "19"
        draft = partner.post("/v1/invoices", json=body).json()["id"]
        chosen.append(draft)
    refused = partner.post("/v1/sync-runs", json={"document_ids": chosen})
    assert refused.status_code == 422 and "Drafts are never synced" in refused.json()["detail"]
    for draft in chosen:
        assert partner.post(f"/v1/invoices/{draft}/book").status_code == 200
    before = {n["id"] for n in partner.get("/v1/notifications").json()}
    run = partner.post("/v1/sync-runs", json={"document_ids": chosen})
    assert run.status_code == 202, run.text
    assert partner.post("/v1/sync-runs", json={"client_id": client_id}).status_code == 409
    done = wait_for(
        lambda: (
            (r := partner.get(f"/v1/sync-runs/{run.json()['id']}").json())["status"] == "finished"
            and r
        )
    )
    assert done["totals"]["documents_total"] == 9  # 3 documents x 3 integrations
    assert done["totals"]["documents_synced"] + done["totals"]["documents_failed"] == 9
    new = [n for n in partner.get("/v1/notifications").json() if n["id"] not in before]
    assert len(new) == 1 and new[0]["sync_run_id"] == done["id"]
    assert new[0]["counts"]["documents_synced"] == done["totals"]["documents_synced"]
    assert new[0]["body"].startswith("3 documents to 3 accounting systems: ")
    assert partner.post(f"/v1/notifications/{new[0]['id']}/read").json()["read_at"] is not None


def test_a_payment_in_yuki_shows_after_a_refresh(
    stack: Stack, partner: httpx.Client, client_with_three: dict[str, Any]
) -> None:
    """Yuki's read-back runs hourly; a user asks for it now and sees the payment."""
    client_id = client_with_three["client"]["id"]
    invoice = partner.post(
        "/v1/invoices", json=document_body(client_id, "RE-2001", customer="k9")
    ).json()["id"]
    booked = wait_for(
        lambda: s if (s := states(partner, invoice)["yuki"])["status"] == "booked" else None
    )
    administration = f"{stack.sandbox_url}/_sandbox/yuki/administrations/" + str(
        client_with_three["administration"]["administration_id"]
    )
    (entry,) = [
        d
        for d in httpx.get(administration).json()["documents"]
        if d["document_id"] == booked["remote_id"]
    ]
    paid = httpx.post(f"{administration}/payments", json={"reference": entry["reference"]})
    assert paid.status_code == 200, paid.text

    integration_id = client_with_three["integrations"]["yuki"]["id"]
    refreshed = partner.post(f"/v1/integrations/{integration_id}/refresh")
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["results_emitted"] >= 1
    wait_for(lambda: states(partner, invoice)["yuki"]["payment_status"] == "paid")
    again = partner.post(f"/v1/integrations/{integration_id}/refresh")
    assert again.json()["results_emitted"] == 0  # nothing changed since: nothing said
