"""A partner never sees another partner's data: foreign ids answer 404, never 403."""

from __future__ import annotations

import httpx

from tests.integration.api.conftest import invoice, new_partner


def test_foreign_ids_are_404_everywhere(
    api_url: str, partner: httpx.Client, client_id: str
) -> None:
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="ISO-1")).json()["id"]
    with new_partner(api_url, "Someone Else") as intruder:
        for method, path in [
            ("GET", f"/v1/clients/{client_id}"),
            ("PATCH", f"/v1/clients/{client_id}"),
            ("GET", f"/v1/clients/{client_id}/integrations"),
            ("GET", f"/v1/invoices/{doc}"),
            ("PATCH", f"/v1/invoices/{doc}"),
            ("POST", f"/v1/invoices/{doc}/book"),
            ("POST", f"/v1/invoices/{doc}/retry"),
        ]:
            response = intruder.request(method, path, json={} if method != "GET" else None)
            assert response.status_code == 404, (method, path, response.status_code)
        assert (
            intruder.post("/v1/invoices", json=invoice(client_id, number="ISO-2")).status_code
            == 404
        )
        for path in ("/v1/invoices", "/v1/credit-notes", "/v1/sync-runs", "/v1/notifications"):
            listed = intruder.get(path, params={"client_id": client_id})
            assert listed.status_code == 404, (path, listed.text)
            assert listed.headers["content-type"] == "application/problem+json"
        assert client_id not in [c["id"] for c in intruder.get("/v1/clients").json()["data"]]
        for body in ({"client_id": client_id}, {"integration_id": client_id}):
            replay = intruder.post("/v1/dead-letters/replay", json=body)
            assert replay.status_code == 404, (body, replay.text)


def test_clients_come_in_pages_like_every_list(api_url: str) -> None:
    with new_partner(api_url, "Pages") as partner:
        made = [
            partner.post("/v1/clients", json={"name": f"Client {n}"}).json()["id"] for n in range(5)
        ]
        first = partner.get("/v1/clients", params={"limit": 2}).json()
        second = partner.get(
            "/v1/clients", params={"limit": 2, "cursor": first["next_cursor"]}
        ).json()
        third = partner.get(
            "/v1/clients", params={"limit": 2, "cursor": second["next_cursor"]}
        ).json()
        bad = partner.get("/v1/clients", params={"cursor": "not-a-cursor"})

    seen = [c["id"] for page in (first, second, third) for c in page["data"]]
    assert seen == list(reversed(made))  # newest first, each once
    assert third["next_cursor"] is None
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"
