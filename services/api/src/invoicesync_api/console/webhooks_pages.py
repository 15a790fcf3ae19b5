"""/console/webhooks: the partner's endpoints, their latest deliveries with every
attempt, and the actions the API allows (create, disable, enable, replay, rotate).

Each action calls the same webhook services as ``/v1/webhook-endpoints`` (the URL policy,
``service.create_endpoint``, ``disable``, ``replay``, ``rotate_secret``), needs the admin
scope as the API does, and shows a new secret once, in the answer that made it."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.console import repository
from invoicesync_api.console.i18n import _
from invoicesync_api.console.router import (
    AdminFormDep,
    ConsoleRoute,
    ViewerDep,
    _page,
    _redirect,
)
from invoicesync_api.deps import BoxDep, SessionDep
from invoicesync_api.i18n import webhook_reasons as reasons
from invoicesync_api.i18n.catalog import render
from invoicesync_api.webhooks import repository as webhooks
from invoicesync_api.webhooks import service
from invoicesync_api.webhooks.models import ENABLED, WebhookEndpoint
from invoicesync_api.webhooks.router import WebhookSettingsDep
from invoicesync_api.webhooks.schemas import EVENT_TYPES, EndpointIn
from invoicesync_api.webhooks.url_policy import check_url
from invoicesync_shared import clock

DELIVERIES_SHOWN = 10  # per endpoint, newest first; the API pages through the rest
# Webhook times are on the shared clock, as the API's routes and the dispatcher compare them.
WEBHOOKS = "/console/webhooks"

WEBHOOK_LABELS = {
    "enabled": _("Enabled"),
    "disabled": _("Disabled"),
    "pending": _("Waiting to be delivered"),
    "delivered": _("Delivered"),
    "failed": _("Gave up"),
    "canceled": _("Canceled"),
}

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


async def _endpoints(
    db: AsyncSession, partner_id: uuid.UUID, language: str
) -> list[dict[str, Any]]:
    """Each endpoint (why it is disabled, in ``language``) with its newest deliveries,
    each delivery with its attempts: the deliveries of all endpoints in one statement and
    their attempts in another, not one per endpoint or delivery."""
    endpoints = await webhooks.list_endpoints(db, partner_id)
    newest = await webhooks.newest_deliveries_of(
        db, [e.id for e in endpoints], per_endpoint=DELIVERIES_SHOWN
    )
    attempts = await webhooks.attempts_of(db, [d.id for ds in newest.values() for d in ds])
    return [
        {
            "endpoint": endpoint,
            "disabled_reason": reasons.disabled_reason(language, endpoint.disabled_reason),
            "deliveries": [
                {"delivery": d, "attempts": attempts[d.id]} for d in newest[endpoint.id]
            ],
        }
        for endpoint in endpoints
    ]


async def _webhooks_page(
    request: Request,
    viewer: ViewerDep,
    db: AsyncSession,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    return _page(
        request,
        "webhooks.html",
        viewer.t,
        status_code,
        viewer=viewer,
        unread=await repository.count_unread(db, viewer.caller.partner_id),
        endpoints=await _endpoints(db, viewer.caller.partner_id, viewer.t.locale),
        event_types=sorted(EVENT_TYPES),
        webhook_labels=WEBHOOK_LABELS,
        **{"form": {}, "form_error": None, "new_secret": None, **context},
    )


def _shown_once(response: HTMLResponse) -> HTMLResponse:
    """A page with a new secret: htmx puts the page's own address in the history, so
    going back or reloading shows the list without it (and never posts again); no
    cache keeps it."""
    response.headers["HX-Replace-Url"] = WEBHOOKS
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/webhooks", response_class=HTMLResponse)
async def webhooks_page(request: Request, viewer: ViewerDep, db: SessionDep) -> Response:
    return await _webhooks_page(request, viewer, db)


@router.post("/webhooks", response_class=HTMLResponse)
async def create_endpoint(
    request: Request,
    viewer: AdminFormDep,
    db: SessionDep,
    box: BoxDep,
    settings: WebhookSettingsDep,
    url: Annotated[str, Form(max_length=2048)] = "",
    events: Annotated[list[str] | None, Form()] = None,
    description: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """As ``POST /v1/webhook-endpoints``; the answer shows the signing secret once."""
    form = {"url": url, "events": events or [], "description": description}
    try:
        body = EndpointIn(
            url=url.strip(), events=events or [], description=description.strip() or None
        )
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0]) if exc.errors()[0]["loc"] else "url"
        error = (
            viewer.t.gettext("Choose at least one event.")
            if field == "events"
            else viewer.t.gettext("Enter the receiver's URL.")
        )
        return await _webhooks_page(
            request, viewer, db, 422, form=form, form_error=error, form_field=field
        )
    await check_url(
        body.url,
        allow_private=settings.allow_private_urls,
        allow_loopback=settings.allow_loopback_urls,
    )
    endpoint, secret = service.create_endpoint(
        box,
        viewer.caller.partner_id,
        url=body.url,
        events=list(body.events),
        description=body.description,
    )
    endpoint = await webhooks.add_endpoint(db, endpoint)
    return _shown_once(
        await _webhooks_page(
            request, viewer, db, 201, new_secret={"endpoint": endpoint.id, "secret": secret}
        )
    )


async def _own(db: AsyncSession, viewer: ViewerDep, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    return await webhooks.get_endpoint(db, endpoint_id, viewer.caller.partner_id, lock=True)


@router.post("/webhooks/{endpoint_id}/disable", response_class=HTMLResponse)
async def disable_endpoint(
    request: Request,
    endpoint_id: uuid.UUID,
    viewer: AdminFormDep,
    db: SessionDep,
) -> Response:
    """As ``PATCH`` with ``enabled: false``: nothing more is sent, pending ones cancel."""
    endpoint = await _own(db, viewer, endpoint_id)
    if endpoint.status == ENABLED:
        reason = render("en", reasons.BY_PARTNER)  # stored in English, as PATCH does
        await service.disable(db, endpoint, reason, clock.now(), notify=False)
    return _redirect(request, WEBHOOKS)


@router.post("/webhooks/{endpoint_id}/enable", response_class=HTMLResponse)
async def enable_endpoint(
    request: Request,
    endpoint_id: uuid.UUID,
    viewer: AdminFormDep,
    db: SessionDep,
) -> Response:
    """As ``PATCH`` with ``enabled: true``."""
    endpoint = await _own(db, viewer, endpoint_id)
    if endpoint.status != ENABLED:
        service.enable(endpoint)
    return _redirect(request, WEBHOOKS)


@router.post("/webhooks/{endpoint_id}/rotate-secret", response_class=HTMLResponse)
async def rotate_secret(
    request: Request,
    endpoint_id: uuid.UUID,
    viewer: AdminFormDep,
    db: SessionDep,
    box: BoxDep,
    settings: WebhookSettingsDep,
) -> Response:
    """As ``POST .../rotate-secret``: the new secret is in this answer only; the old one
    signs too until the grace period ends."""
    endpoint = await _own(db, viewer, endpoint_id)
    grace = timedelta(hours=settings.rotation_grace_hours)
    secret = service.rotate_secret(box, endpoint, grace, clock.now())
    await db.flush()
    return _shown_once(
        await _webhooks_page(
            request, viewer, db, new_secret={"endpoint": endpoint.id, "secret": secret}
        )
    )


@router.post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay", response_class=HTMLResponse)
async def replay_delivery(
    request: Request,
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
    viewer: AdminFormDep,
    db: SessionDep,
) -> Response:
    """As ``POST .../replay``: one more attempt now, same webhook-id and body."""
    endpoint = await _own(db, viewer, endpoint_id)
    delivery = await webhooks.get_delivery(db, endpoint.id, delivery_id, lock=True)
    await service.replay(db, endpoint, delivery)
    return _redirect(request, WEBHOOKS)
