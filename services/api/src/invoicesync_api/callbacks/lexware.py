"""``POST /v1/callbacks/lexware``: where Lexware's event subscriptions call back.

A signed callback names an organisation and a voucher whose status or payment changed;
the Lexware connector is asked to read that organisation's vouchers back at once, so a
draft finalised in Lexware Office shows its booking number within seconds rather than at
the next poll. The answer goes back before that read (Lexware wants a quick 2xx).

``token.revoked`` (the connection was revoked in Lexware Office) puts the organisation's
integrations in ``needs_reauthorization`` at once, with the webhook saying so, instead of
at the next call that fails.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import structlog
from fastapi import APIRouter, BackgroundTasks, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.callbacks import repository
from invoicesync_api.deps import SessionDep, SettingsDep
from invoicesync_api.errors.exceptions import ApiError, NotFound, Unauthorized
from invoicesync_api.i18n.catalog import N_
from invoicesync_api.integrations import connection
from invoicesync_api.integrations.refresh import refresh
from invoicesync_api.settings import ApiSettings
from invoicesync_shared.db.models import Integration
from invoicesync_shared.states import IntegrationStatus

log = structlog.get_logger()
router = APIRouter(prefix="/v1/callbacks", include_in_schema=False)
REVOKED = "token.revoked"


class BadCallback(ApiError):
    status, code, title = 400, "bad_callback", N_("Bad callback")


@router.post("/lexware", status_code=202)
async def lexware_event(
    request: Request, session: SessionDep, settings: SettingsDep, background: BackgroundTasks
) -> Response:
    signatures = request.app.state.lexware_signatures
    if not signatures.configured:
        raise NotFound("Lexware callbacks are not enabled here.")
    body = await request.body()
    if not await signatures.valid(body, request.headers.get("x-lxo-signature")):
        raise Unauthorized("The callback is not signed by Lexware.")
    event = _parse(body)
    organization = str(event["organizationId"])
    for integration in await repository.list_active_lexware(session, organization):
        if event.get("eventType") == REVOKED:
            await _revoked(session, integration)
        else:
            background.add_task(_refresh, settings, integration.id, event)
    return Response(status_code=202)


async def _revoked(session: AsyncSession, integration: Integration) -> None:
    reason = "the connection was revoked in Lexware Office"
    await connection.mark_broken(
        session,
        integration,
        IntegrationStatus.NEEDS_REAUTHORIZATION,
        reason,
        code="connection_revoked",
    )


def _parse(body: bytes) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except ValueError:
        raise BadCallback("The callback body is not JSON.") from None
    if not isinstance(event, dict) or not event.get("organizationId"):
        raise BadCallback("The callback names no organizationId.")
    return event


async def _refresh(settings: ApiSettings, integration_id: uuid.UUID, event: dict[str, Any]) -> None:
    outcome = await refresh(settings, "lexware", integration_id)
    log.info(
        "lexware callback",
        integration_id=str(integration_id),
        event_type=event.get("eventType"),
        resource_id=event.get("resourceId"),
        refreshed=outcome.ok,
        results=outcome.results_emitted,
        code=outcome.code,
    )
