"""Asking a connector for its preview: a query on its control port, as ``verify`` is
(the API has no vendor access and imports no connector). Bounded: a connector that does
not answer in time makes a ``preview_unavailable`` problem, never a failed request."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import structlog

from invoicesync_api.i18n.catalog import N_, render
from invoicesync_api.i18n.stored_texts import read_back, translated
from invoicesync_shared.events.documents import DocumentSnapshot

log = structlog.get_logger()


UNAVAILABLE = N_(
    "The {system} connector could not preview this document ({why}); preview again in a moment."
)
NO_ANSWER, NOT_REACHABLE, ANSWERED = (
    N_("no answer in time"),
    N_("not reachable"),
    N_("it answered {status}"),
)


def unavailable_message(language: str, stored: str) -> str:
    """A ``preview_unavailable`` problem's message (stored English) in ``language``."""
    params = read_back(UNAVAILABLE, stored)
    if params is None:
        return stored
    why = translated(language, (NO_ANSWER, NOT_REACHABLE, ANSWERED), params["why"])
    return render(language, UNAVAILABLE, {**params, "why": why})


def unavailable(system: str, why: str) -> dict[str, Any]:
    return {
        "payload": None,
        "customer": None,
        "problems": [
            {
                "code": "preview_unavailable",
                "field": None,
                "message": render("en", UNAVAILABLE, {"system": system, "why": why}),
            }
        ],
    }


async def ask(
    http: httpx.AsyncClient,
    base_url: str,
    system: str,
    integration_id: uuid.UUID,
    document: DocumentSnapshot,
) -> dict[str, Any]:
    """The connector's answer: ``{payload, customer, problems}``."""
    url = f"{base_url}/integrations/{integration_id}/preview"
    try:
        response = await http.post(
            url,
            content=document.model_dump_json(),
            headers={"Content-Type": "application/json"},
        )
    except httpx.TimeoutException:
        return unavailable(system, render("en", NO_ANSWER))
    except httpx.HTTPError:
        return unavailable(system, render("en", NOT_REACHABLE))
    if response.status_code != 200:
        log.warning("preview refused", system=system, status=response.status_code)
        return unavailable(system, render("en", ANSWERED, {"status": response.status_code}))
    body: dict[str, Any] = response.json()
    return body
