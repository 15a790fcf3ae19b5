"""An edit of a document booked in Yuki, made while the connection is lost (the key
revoked in Yuki), reaches Yuki once the user stores a new key: asked again as an edit,
not as a new document the connector finds booked already and leaves as it was."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from tests.e2e.conftest import document_body, wait_for
from tests.support.integrations import connect, new_client
from tests.support.processes import Stack

CONNECTORS = ("yuki",)


def _sync(partner: httpx.Client, invoice_id: str) -> dict[str, Any]:
    (state,) = partner.get(f"/v1/invoices/{invoice_id}").json()["sync"]
    return dict(state)


def _lines(quantity: str) -> list[dict[str, str]]:
    return [{"description": "Work", "quantity": quantity, "unit_price": "75.00", "vat_rate": "21"}]


def test_an_edit_made_while_the_key_is_refused_reaches_yuki_after_reconnecting(
    stack: Stack, partner: httpx.Client
) -> None:
    client = connect(stack, partner, new_client(partner, "Herstel BV", "NL"), "yuki")
    sandbox = f"{stack.sandbox_url}/_sandbox/yuki"
    body = document_body(client.client_id, "YE-1", lines=_lines("2"))
    invoice_id = partner.post("/v1/invoices", json=body).json()["id"]
    wait_for(lambda: _sync(partner, invoice_id)["status"] == "booked")

    def in_yuki() -> dict[str, Any]:
        (document,) = httpx.get(
            f"{sandbox}/administrations/{client.books}/documents", params={"reference": "YE-1"}
        ).json()
        return dict(document)

    assert in_yuki()["gross"] == "181.50"

    # The key is deleted in Yuki; the first edit's push meets the refusal.
    revoked = httpx.post(f"{sandbox}/keys/revoke", json={"access_key": client.access_key})
    assert revoked.status_code == 200, revoked.text
    first = partner.patch(f"/v1/invoices/{invoice_id}", json={"lines": _lines("3")})
    assert first.status_code == 200, first.text
    url = f"/v1/integrations/{client.integration_id}"
    wait_for(lambda: partner.get(url).json()["status"] == "needs_reauthorization")
    # A second edit while the integration waits for a new key: nothing can go out now.
    second = partner.patch(f"/v1/invoices/{invoice_id}", json={"lines": _lines("4")})
    assert second.status_code == 200, second.text
    assert _sync(partner, invoice_id)["status"] == "pending"
    assert in_yuki()["gross"] == "181.50"

    # The user gets a new key in Yuki and stores it: the integration sends again.
    granted = httpx.post(f"{sandbox}/administrations/{client.books}/access", json={"granted": True})
    assert granted.status_code == 200, granted.text
    stored = partner.patch(url, json={"settings": {"access_key": granted.json()["access_key"]}})
    assert stored.status_code == 200 and stored.json()["status"] == "active", stored.text
    seen: list[dict[str, Any]] = []

    def booked() -> bool:
        seen.append(_sync(partner, invoice_id))
        return bool(seen[-1]["status"] == "booked")

    try:
        wait_for(booked)
    except AssertionError:
        raise AssertionError(f"not booked again: {seen[-1]}") from None
    # The books hold the last edit: 4 x 75.00 + 21 %.
    document = wait_for(lambda: d if (d := in_yuki())["gross"] == "363.00" else None, 30)
    assert [Decimal(line["quantity"]) for line in document["lines"]] == [4]


def test_an_edit_while_connected_is_booked_again_not_left_pending(
    stack: Stack, partner: httpx.Client
) -> None:
    """The answer to an edit names the same entry as the first push's answer: it is still
    news to the API (its id carries the revision), so the row is booked again."""
    client = connect(stack, partner, new_client(partner, "Bewerkt BV", "NL"), "yuki")
    body = document_body(client.client_id, "YE-2", lines=_lines("2"))
    invoice_id = partner.post("/v1/invoices", json=body).json()["id"]
    wait_for(lambda: _sync(partner, invoice_id)["status"] == "booked")
    edited = partner.patch(f"/v1/invoices/{invoice_id}", json={"lines": _lines("3")})
    assert edited.status_code == 200, edited.text
    documents = f"{stack.sandbox_url}/_sandbox/yuki/administrations/{client.books}/documents"
    wait_for(
        lambda: httpx.get(documents, params={"reference": "YE-2"}).json()[0]["gross"] == "272.25"
    )
    state = wait_for(lambda: s if (s := _sync(partner, invoice_id))["status"] == "booked" else None)
    assert state["booking_number"] == "YE-2"
