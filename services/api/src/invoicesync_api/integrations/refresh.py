"""Asking a connector to read back now what changed in the accounting system (numbers
given to drafts, payments, deleted entries) instead of at its next round."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from invoicesync_api.i18n.catalog import N_, render
from invoicesync_api.settings import ApiSettings

# Systems whose connector reads back: Exact (payments, deleted entries), Lexware (drafts
# finalised, payments), Yuki (payments; its booking number comes with the push's answer).
READS_BACK = ("exact", "lexware", "yuki")


@dataclass(frozen=True)
class Refreshed:
    ok: bool
    results_emitted: int = 0
    code: str | None = None
    message: str | None = None


UNREACHABLE = N_("The {system} connector could not be reached; try again later.")


def message_in(language: str, system: str, outcome: Refreshed) -> str | None:
    """The outcome's message in ``language``; a connector's own as it wrote it."""
    if outcome.code == "connector_unavailable":
        return render(language, UNREACHABLE, {"system": system})
    return outcome.message


async def refresh(settings: ApiSettings, system: str, integration_id: uuid.UUID) -> Refreshed:
    url = f"{settings.connector_url(system)}/integrations/{integration_id}/refresh"
    try:
        async with httpx.AsyncClient(timeout=60.0) as http:
            response = await http.post(url)
        body = response.json()
    except (httpx.HTTPError, ValueError):
        return Refreshed(
            False,
            code="connector_unavailable",
            message=render("en", UNREACHABLE, {"system": system}),
        )
    if response.status_code == 200:
        return Refreshed(True, results_emitted=int(body.get("results_emitted", 0)))
    return Refreshed(False, code=body.get("code"), message=body.get("message"))
