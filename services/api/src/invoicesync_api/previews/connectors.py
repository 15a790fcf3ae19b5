"""Asking a connector for its preview: a query on its control port, as ``verify`` is
(the API has no vendor access and imports no connector). Bounded: a connector that does
not answer in time makes a ``preview_unavailable`` problem, never a failed request."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import structlog

from invoicesync_shared.events.documents import DocumentSnapshot

log = structlog.get_logger()


def unavailable(system: str, why: str) -> dict[str, Any]:
    return {
        "payload": None,
        "customer": None,
        "problems": [
            {
                "code": "preview_unavailable",
                "field": None,
                "message": f"The {system} connector could not preview this document ({why}); "
                "preview again in a moment.",
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
        return unavailable(system, "no answer in time")
    except httpx.HTTPError:
        return unavailable(system, "not reachable")
    if response.status_code != 200:
        log.warning("preview refused", system=system, status=response.status_code)
        return unavailable(system, f"it answered {response.status_code}")
    body: dict[str, Any] = response.json()
    return body
