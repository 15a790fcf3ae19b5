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
        assert intruder.get("/v1/invoices", params={"client_id": client_id}).json()["data"] == []
        assert client_id not in [c["id"] for c in intruder.get("/v1/clients").json()]
