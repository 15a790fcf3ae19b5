"""Connect a client to a fresh company in each accounting system through the public API,
as a partner and the user's browser would; returns where its books are in the sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.e2e.conftest import connect_exact, new_exact_division
from tests.support.processes import Stack


@dataclass(frozen=True)
class ConnectedClient:
    client_id: str
    system: str
    integration_id: str
    books: str  # Exact division, Lexware organisation or Yuki administration
    access_key: str | None = None  # Yuki's web-service key


def new_client(partner: httpx.Client, name: str, country: str) -> str:
    """A client with complete company data (Lexware refuses to send without it)."""
    address = {
        "street": "Hauptstraße",
        "house_number": "1",
        "postal_code": "10115",
        "city": "Berlin",
        "country": country,
    }
    created = partner.post(
        "/v1/clients", json={"name": name, "country": country, "address": address}
    )

    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def connect(
    stack: Stack, partner: httpx.Client, client_id: str, system: str, *, one_journal: bool = False
) -> ConnectedClient:
    """``one_journal``: an Exact division whose invoices and credit notes share a journal."""
    if system == "exact":
        division = new_exact_division(stack)
        if one_journal:
            division = {**division, "credit_note_journal": division["sales_journal"]}
        integration = connect_exact(partner, client_id, division)
        return ConnectedClient(client_id, system, integration["id"], str(division["division"]))
    if system == "lexware":
        return _connect_lexware(stack, partner, client_id)
    return _connect_yuki(stack, partner, client_id)


def _connect_lexware(stack: Stack, partner: httpx.Client, client_id: str) -> ConnectedClient:
    org = httpx.post(f"{stack.sandbox_url}/_sandbox/lexware/organizations", json={}).json()
    created = partner.post(f"/v1/clients/{client_id}/integrations", json={"system": "lexware"})
    assert created.status_code == 201, created.text
    # The consent page lets the user pick the organisation; auto-approve takes it from here.
    url = f"{created.json()['authorize_url']}&organization_id={org['organization_id']}"
    assert httpx.get(url, follow_redirects=True, timeout=60).status_code == 200
    integration = partner.get(f"/v1/integrations/{created.json()['id']}").json()
    assert integration["status"] == "active", integration["status_reason"]
    return ConnectedClient(client_id, "lexware", integration["id"], org["organization_id"])


def _connect_yuki(stack: Stack, partner: httpx.Client, client_id: str) -> ConnectedClient:
    administration = httpx.post(
        f"{stack.sandbox_url}/_sandbox/yuki/administrations", json={}
    ).json()
    created = partner.post(
        f"/v1/clients/{client_id}/integrations",
        json={
            "system": "yuki",
            "settings": {
                "access_key": administration["access_key"],
                "administration_id": administration["administration_id"],
            },
        },
    )
    assert created.status_code == 201, created.text
    return ConnectedClient(
        client_id,
        "yuki",
        created.json()["id"],
        administration["administration_id"],
        access_key=administration["access_key"],
    )


def invoice_body(client: ConnectedClient, number: str, customer: str) -> dict[str, Any]:
    """A booked invoice with a VAT rate valid in the client's books (19 % in Germany)."""
    german = client.system == "lexware"
    country = "DE" if german else "NL"
    return {
        "client_id": client.client_id,
        "external_id": f"ext-{number}",
        "number": number,
        "status": "booked",
        "issue_date": "2026-11-20",
        "currency": "EUR",
        "customer": {
            "external_id": customer,
            "name": f"Customer {customer}",
            "country": country,
            "email": f"{customer}@example.com",
            "address": {
                "street": "Marktplatz" if german else "Dorpsstraat",
                "house_number": "1",
                "postal_code": "20095" if german else "1234 AB",
                "city": "Hamburg" if german else "Utrecht",
                "country": country,
            },
        },
        "lines": [
            {
                "description": "Work",
                "quantity": "2",
                "unit_price": "75.00",
                "vat_rate": "19" if german else "21",
            }
        ],
    }
