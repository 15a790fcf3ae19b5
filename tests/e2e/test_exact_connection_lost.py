"""Issue 15 item 10: an Exact refresh whose answer is lost after Exact rotated the pair,
through real processes. The connector cannot recover a spent refresh token, so it reports
the lost connection; the API alone marks the integration ``needs_reauthorization`` with
Exact's reason, makes one notification and sends one ``integration.status_changed``
webhook, and the document stays ``pending``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from tests.e2e.conftest import connect_exact, document_body, new_exact_division, wait_for
from tests.support.processes import Stack
from tests.support.servers import serve_in_thread
from tests.support.webhooks import Receiver

pytestmark = pytest.mark.e2e
STATUS_CHANGED = "integration.status_changed"


@pytest.fixture(scope="module")
def receiver(partner: httpx.Client) -> Iterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/hooks", receiver.handle, methods=["POST"])])
    with serve_in_thread(app) as url:
        created = partner.post(
            "/v1/webhook-endpoints", json={"url": f"{url}/hooks", "events": [STATUS_CHANGED]}
        )
        assert created.status_code == 201, created.text
        receiver.secret = created.json()["secret"]
        yield receiver


def _sync(partner: httpx.Client, invoice_id: str) -> dict[str, Any]:
    (state,) = partner.get(f"/v1/invoices/{invoice_id}").json()["sync"]
    return dict(state)


def _post(partner: httpx.Client, client_id: str, number: str) -> str:
    posted = partner.post("/v1/invoices", json=document_body(client_id, number))
    assert posted.status_code == 201, posted.text
    return str(posted.json()["id"])


def test_a_lost_refresh_answer_asks_to_connect_again_once(
    stack: Stack, partner: httpx.Client, receiver: Receiver
) -> None:
    client = partner.post("/v1/clients", json={"name": "Verloren Token BV", "country": "NL"})
    assert client.status_code == 201, client.text
    client_id = client.json()["id"]
    integration = connect_exact(partner, client_id, new_exact_division(stack))
    warm = _post(partner, client_id, "LOST-0")
    wait_for(lambda: _sync(partner, warm)["status"] == "booked")
    # Exact ends the access token; the next refresh rotates in Exact, its answer is lost.
    expired = httpx.post(
        f"{stack.sandbox_url}/_sandbox/exact/tokens/expire", json={"client_id": "invoicesync-dev"}
    )
    assert expired.status_code == 200, expired.text
    fault = {
        "system": "exact",
        "path_pattern": "oauth2/token",
        "kind": "drop_response_after_commit",
        "count": 1,
        "method": "POST",
    }
    assert httpx.post(f"{stack.sandbox_url}/_sandbox/faults", json=fault).status_code == 201

    invoice_id = _post(partner, client_id, "LOST-1")

    def needs_reauthorization() -> dict[str, Any] | None:
        shown: dict[str, Any] = partner.get(f"/v1/integrations/{integration['id']}").json()
        return shown if shown["status"] == "needs_reauthorization" else None

    shown = wait_for(needs_reauthorization, 60)

    def lost_hooks() -> list[dict[str, Any]]:
        return [
            r.event
            for r in receiver.received
            if r.event["data"]["integration_id"] == integration["id"]
            and r.event["data"]["status"] == "needs_reauthorization"
        ]

    hooks = wait_for(lost_hooks, 30)
    assert [h["type"] for h in hooks] == [STATUS_CHANGED]
    assert hooks[0]["data"]["reason"] == shown["status_reason"]
    notes = partner.get("/v1/notifications", params={"client_id": client_id}).json()
    assert [n["kind"] for n in notes] == ["integration_status_changed"]
    assert _sync(partner, invoice_id)["status"] == "pending"
    assert "Old refresh token used" in str(shown["status_reason"])  # Exact's own words
    assert len(lost_hooks()) == 1  # still one

    # The user allows access again: the same integration is active, its waiting invoice
    # is sent at once (not at the sweeper's next round), and the partner hears of it.
    reconnect = partner.post(f"/v1/integrations/{integration['id']}/reconnect")
    assert reconnect.status_code == 200, reconnect.text
    assert reconnect.json()["status"] == "needs_reauthorization"  # until access is allowed
    callback = httpx.get(reconnect.json()["authorize_url"], follow_redirects=True, timeout=60)
    assert callback.status_code == 200, callback.text
    assert callback.json()["id"] == integration["id"]
    assert callback.json()["status"] == "active"
    booked = wait_for(lambda: _sync(partner, invoice_id)["status"] == "booked", 30)
    assert booked

    def active_hooks() -> list[dict[str, Any]]:
        return [
            r.event
            for r in receiver.received
            if r.event["data"]["integration_id"] == integration["id"]
            and r.event["data"]["status"] == "active"
        ]

    wait_for(lambda: len(active_hooks()) == 2, 30)  # connected, then connected again
    assert len(active_hooks()) == 2
