"""Lexware's event callbacks: a draft finalised and then paid in Lexware Office shows its
voucher number and payment status at once, through the signed callback to the API, with
the poller as good as off (one round at start-up, then an hour); a connection revoked
there shows at once as needing a new connection."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from tests.e2e.conftest import wait_for
from tests.support.integrations import connect, invoice_body, new_client
from tests.support.processes import Stack

CONNECTORS = ("lexware",)
STACK_ENV = {"INVOICESYNC_LEXWARE_POLL_INTERVAL_SECONDS": "3600"}


def _sync(partner: httpx.Client, invoice_id: str) -> dict[str, object]:
    (state,) = partner.get(f"/v1/invoices/{invoice_id}").json()["sync"]
    return dict(state)


def _voucher_step(stack: Stack, voucher_id: str, step: str) -> None:
    done = httpx.post(f"{stack.sandbox_url}/_sandbox/lexware/vouchers/{voucher_id}/{step}")
    assert done.status_code == 200, done.text


def test_finalised_and_paid_in_lexware_come_back_by_callback(
    stack: Stack, partner: httpx.Client
) -> None:
    client = connect(stack, partner, new_client(partner, "Mandant GmbH", "DE"), "lexware")
    integration = partner.get(f"/v1/integrations/{client.integration_id}").json()
    assert integration["status"] == "active"
    posted = partner.post("/v1/invoices", json=invoice_body(client, "CB-1", "cust-cb"))
    assert posted.status_code == 201, posted.text
    invoice_id = posted.json()["id"]
    sent = wait_for(lambda: s if (s := _sync(partner, invoice_id))["status"] == "sent" else None)
    assert sent["booking_number"] is None

    _voucher_step(stack, str(sent["remote_id"]), "finalize")
    booked = wait_for(
        lambda: s if (s := _sync(partner, invoice_id))["status"] == "booked" else None, 30
    )
    books = httpx.get(f"{stack.sandbox_url}/_sandbox/lexware/organizations/{client.books}")
    (voucher,) = [v for v in books.json()["vouchers"] if v["id"] == sent["remote_id"]]
    assert voucher["voucherNumber"] and booked["booking_number"] == voucher["voucherNumber"]

    _voucher_step(stack, str(sent["remote_id"]), "pay")
    wait_for(lambda: _sync(partner, invoice_id)["payment_status"] == "paid", 30)


def test_a_connection_revoked_in_lexware_asks_to_connect_again_at_once(
    stack: Stack, partner: httpx.Client
) -> None:
    """No document has to fail first: the token.revoked callback says it."""
    client = connect(stack, partner, new_client(partner, "Widerruf GmbH", "DE"), "lexware")
    revoked = httpx.post(
        f"{stack.sandbox_url}/_sandbox/lexware/tokens/revoke",
        json={"organization_id": client.books},
    )
    assert revoked.status_code == 200 and revoked.json()["revoked"] >= 1, revoked.text

    def status() -> dict[str, object] | None:
        integration = partner.get(f"/v1/integrations/{client.integration_id}").json()
        return integration if integration["status"] == "needs_reauthorization" else None

    integration = wait_for(status, 30)
    assert "revoked" in str(integration["status_reason"])
    notes = partner.get("/v1/notifications", params={"client_id": client.client_id}).json()
    assert [n["kind"] for n in notes] == ["integration_status_changed"]


def test_a_reconnect_to_another_organisation_is_refused_and_nothing_goes_there(
    stack: Stack, partner: httpx.Client
) -> None:
    """The consent page lets the user pick any organisation they can reach: a grant for
    another company must not carry this client's waiting documents into its books. A
    document created while the connection is broken waits for it (pending), and goes when
    the right organisation is connected again."""
    client = connect(stack, partner, new_client(partner, "Wechsel GmbH", "DE"), "lexware")
    revoked = httpx.post(
        f"{stack.sandbox_url}/_sandbox/lexware/tokens/revoke",
        json={"organization_id": client.books},
    )
    assert revoked.status_code == 200, revoked.text
    wait_for(lambda: _status(partner, client.integration_id) == "needs_reauthorization", 30)
    posted = partner.post("/v1/invoices", json=invoice_body(client, "RC-1", "cust-rc"))
    assert posted.status_code == 201, posted.text
    other = httpx.post(f"{stack.sandbox_url}/_sandbox/lexware/organizations", json={}).json()

    shown = _reconnect(partner, client.integration_id, other["organization_id"])
    assert shown["status"] == "error", shown
    assert other["organization_id"] in shown["status_reason"]
    assert client.books in shown["status_reason"]
    assert _sync(partner, posted.json()["id"])["status"] == "pending"
    verified = partner.post(f"/v1/integrations/{client.integration_id}/verify")
    assert verified.json()["status"] == "error", verified.text  # the grant stays refused
    ours = f"{stack.sandbox_url}/_sandbox/lexware/organizations/{client.books}"
    assert httpx.get(ours).json()["vouchers"] == []  # it waited, nothing was sent anywhere

    assert _reconnect(partner, client.integration_id, client.books)["status"] == "active"
    wait_for(lambda: _sync(partner, posted.json()["id"])["status"] == "sent")
    theirs = httpx.get(
        f"{stack.sandbox_url}/_sandbox/lexware/organizations/{other['organization_id']}"
    )
    assert theirs.json()["vouchers"] == []


def _status(partner: httpx.Client, integration_id: str) -> str:
    return str(partner.get(f"/v1/integrations/{integration_id}").json()["status"])


def _reconnect(partner: httpx.Client, integration_id: str, organization_id: str) -> dict[str, Any]:
    """The user connects again and picks ``organization_id`` on the consent page."""
    started = partner.post(f"/v1/integrations/{integration_id}/reconnect")
    assert started.status_code == 200, started.text
    url = f"{started.json()['authorize_url']}&organization_id={organization_id}"
    assert httpx.get(url, follow_redirects=True, timeout=60).status_code == 200
    return dict(partner.get(f"/v1/integrations/{integration_id}").json())


def test_a_callback_not_signed_by_lexware_is_refused(stack: Stack) -> None:
    body = b'{"organizationId": "x", "eventType": "invoice.status.changed", "resourceId": "y"}'
    forged = base64.b64encode(b"\\x00" * 256).decode()
    for headers in ({}, {"X-Lxo-Signature": forged}, {"X-Lxo-Signature": "not base64!"}):
        answer = httpx.post(f"{stack.api_url}/v1/callbacks/lexware", content=body, headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
