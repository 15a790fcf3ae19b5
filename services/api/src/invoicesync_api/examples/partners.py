"""Examples for partners (admin) and their clients."""

from __future__ import annotations

from typing import Any

from fastapi.openapi.models import Example

from invoicesync_api.examples import story
from invoicesync_api.examples.media import named

PARTNER_IN: dict[str, Any] = {"name": story.PARTNER_NAME}
PARTNER_CREATED: dict[str, Any] = {
    "id": story.PARTNER_ID,
    "name": story.PARTNER_NAME,
    "api_key": story.API_KEY,
}
# Listed partners carry no key: it is shown only at creation or rotation.
PARTNER_LISTED: dict[str, Any] = {**PARTNER_CREATED, "api_key": None}
PARTNERS: dict[str, Example] = {
    "partners": named("Keys are not shown again", [PARTNER_LISTED]),
}

CLIENT_IN: dict[str, Any] = {
    "name": story.CLIENT_NAME,
    "vat_number": "NL123456789B01",
    "company_number": "12345678",
    "address": story.ADDRESS,
    "country": "NL",
    "email": "administratie@bakkerij-devries.example",
    "timezone": "Europe/Amsterdam",
}
CLIENT_MINIMAL_IN: dict[str, Any] = {"name": story.CLIENT_NAME, "country": "NL"}
CLIENT_PATCH: dict[str, Any] = {
    "email": "boekhouding@bakkerij-devries.example",
    "address": {**story.ADDRESS, "house_number": "114"},
}
CLIENT_OUT: dict[str, Any] = {
    "id": story.CLIENT_ID,
    **CLIENT_IN,
    "created_at": story.CLIENT_CREATED_AT,
}
GERMAN_CLIENT_OUT: dict[str, Any] = {
    "id": story.GERMAN_CLIENT_ID,
    "name": story.GERMAN_CLIENT_NAME,
    "vat_number": "DE123456789",
    "company_number": "HRB 123456",
    "address": {
        "street": "Hauptstraße",
        "house_number": "5",
        "postal_code": "10115",
        "city": "Berlin",
        "country": "DE",
    },
    "country": "DE",
    "email": "buchhaltung@mueller-haustechnik.example",
    "timezone": "Europe/Berlin",
    "created_at": "2026-11-18T11:18:44Z",
}
CLIENTS_PAGE: dict[str, Example] = {
    "page": named(
        "Newest first; follow next_cursor for more",
        {"data": [GERMAN_CLIENT_OUT, CLIENT_OUT], "next_cursor": None},
    ),
}
