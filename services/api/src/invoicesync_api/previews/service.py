"""Preview: the document checked as the create checks it, then each integration that would
book it asked what it would send and meet. Nothing is stored, nothing is sent."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from invoicesync_api.documents import fanout, service
from invoicesync_api.documents.schemas import DocumentIn
from invoicesync_api.errors.exceptions import NotFound
from invoicesync_api.i18n.catalog import N_
from invoicesync_api.i18n.sync_errors import sync_error_message
from invoicesync_api.previews import connectors, repository
from invoicesync_api.previews.schemas import IntegrationPreview, PreviewOut
from invoicesync_api.settings import ApiSettings
from invoicesync_shared.db.engine import autocommit
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.documents import DocumentSnapshot
from invoicesync_shared.states import FailureCode, IntegrationStatus


async def preview(
    engine: AsyncEngine,
    settings: ApiSettings,
    body: DocumentIn,
    kind: str,
    partner_id: uuid.UUID,
) -> PreviewOut:
    """Raises what the create raises for the same body (422, 404, 409)."""
    async with autocommit(engine) as connection:
        # The create's own checks and build; its result is not stored.
        new = await service.create(
            connection,
            body,
            kind,
            partner_id,
            max_days_ahead=settings.document_max_days_ahead,
        )
        # Those the create would fan out to, by the same rule and instant.
        client, integrations = await repository.client_and_integrations(
            connection, body.client_id, new.document.created_at
        )
    if client is None:  # deleted in between
        raise NotFound(N_("No such client."))
    document = fanout.snapshot(new.document, client)
    timeout = httpx.Timeout(settings.preview_timeout_seconds, connect=1.0)
    async with httpx.AsyncClient(timeout=timeout) as http:
        answers = await asyncio.gather(
            *(_one(http, settings, integration, document) for integration in integrations)
        )
    return PreviewOut(integrations=list(answers))


async def _one(
    http: httpx.AsyncClient,
    settings: ApiSettings,
    integration: Integration,
    document: DocumentSnapshot,
) -> IntegrationPreview:
    problems: list[dict[str, Any]] = []
    start = fanout.start_date(integration)
    if start is not None and document.issue_date < start:
        problems.append(_before_start(integration, document, start.isoformat()))
    if integration.status != IntegrationStatus.ACTIVE:
        reason = f": {integration.status_reason}" if integration.status_reason else ""
        problems.append(
            {
                "code": FailureCode.INTEGRATION_INACTIVE,
                "field": None,
                "message": f"The integration is {integration.status.replace('_', ' ')}{reason}; "
                f"connect it again (POST /v1/integrations/{integration.id}/reconnect). The "
                "document would wait, pending, until then.",
            }
        )
        answer: dict[str, Any] = {"payload": None, "customer": None, "problems": []}
    else:
        answer = await connectors.ask(
            http,
            settings.connector_url(integration.system),
            integration.system,
            integration.id,
            document,
        )
    return IntegrationPreview.model_validate(
        {
            "integration_id": integration.id,
            "system": integration.system,
            "payload": answer.get("payload"),
            "customer": answer.get("customer"),
            "problems": [*problems, *answer.get("problems", [])],
        }
    )


def _before_start(
    integration: Integration, document: DocumentSnapshot, start: str
) -> dict[str, Any]:
    return {
        "code": FailureCode.BEFORE_START_DATE,
        "field": "issue_date",
        "message": f"Dated {document.issue_date.isoformat()}, before this integration's start "
        f"date ({start}): it would not be sent. To book it there, move the integration's "
        f"start_date (PATCH /v1/integrations/{integration.id}) to or before its date.",
    }


def localised(out: PreviewOut, language: str) -> PreviewOut:
    """The problems' messages in ``language`` by their codes (the sync errors' texts: a
    preview's problem is what sending would fail on; a connector not answering by its own
    template); unknown codes as the connector wrote them."""
    if language == "en":
        return out
    for integration in out.integrations:
        for problem in integration.problems:
            if problem.code == "preview_unavailable":
                problem.message = connectors.unavailable_message(language, problem.message)
                continue
            problem.message = (
                sync_error_message(
                    language, problem.code, problem.message, system=integration.system
                )
                or problem.message
            )
    return out
