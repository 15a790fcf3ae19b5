"""Asking the system's connector whether an integration's settings work remotely.

Vendor knowledge (journals, divisions, small-business accounts) lives in the connector
service; the API calls its control endpoint rather than importing its code.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from invoicesync_api.i18n import status_reasons
from invoicesync_api.settings import ApiSettings


@dataclass(frozen=True)
class Verdict:
    ok: bool
    code: str | None = None
    message: str | None = None
    details: dict[str, Any] | None = None
    # What the code's text names (``status_reasons``), as the connector sent it.
    params: dict[str, Any] | None = None


async def verify(settings: ApiSettings, system: str, integration_id: uuid.UUID) -> Verdict:
    url = f"{settings.connector_url(system)}/integrations/{integration_id}/verify"
    try:
        async with httpx.AsyncClient(timeout=30.0) as http:
            response = await http.post(url)
    except httpx.HTTPError:
        return Verdict(
            False,
            "verification_unavailable",
            status_reasons.english("verification_unavailable", system=system),
        )
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code == 200:
        return Verdict(True, details=body.get("details"))
    return Verdict(
        False,
        body.get("code", "verification_failed"),
        body.get("message", response.text),
        params=body.get("params") or None,
    )
