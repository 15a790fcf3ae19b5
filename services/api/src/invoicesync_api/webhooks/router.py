"""Webhook endpoints of the calling partner, their secrets and their delivery log."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from invoicesync_api.deps import BoxDep, CallerDep, LanguageDep, NeedsAdmin, NeedsRead, SessionDep
from invoicesync_api.examples import webhooks as examples
from invoicesync_api.examples.media import response_examples
from invoicesync_api.i18n import webhook_reasons as reasons
from invoicesync_api.i18n.catalog import render
from invoicesync_api.schemas import Page
from invoicesync_api.webhooks import repository, service
from invoicesync_api.webhooks.models import ENABLED, WebhookEndpoint
from invoicesync_api.webhooks.schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryOut,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    EndpointWithSecret,
)
from invoicesync_api.webhooks.settings import WebhookSettings
from invoicesync_api.webhooks.url_policy import check_url
from invoicesync_shared import clock

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"])


def get_webhook_settings(request: Request) -> WebhookSettings:
    settings: WebhookSettings = request.app.state.webhook_settings
    return settings


WebhookSettingsDep = Annotated[WebhookSettings, Depends(get_webhook_settings)]


async def get_endpoint(
    endpoint_id: uuid.UUID, session: SessionDep, caller: CallerDep
) -> WebhookEndpoint:
    """The caller's endpoint (locked for this request) or 404, also for a foreign id."""
    return await repository.get_endpoint(session, endpoint_id, caller.partner_id, lock=True)


EndpointDep = Annotated[WebhookEndpoint, Depends(get_endpoint)]


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> EndpointWithSecret:
    return EndpointWithSecret(**service.to_out(endpoint).model_dump(), secret=secret)


@router.post("", dependencies=[NeedsAdmin], status_code=201, response_model=EndpointWithSecret)
async def create_endpoint(
    body: EndpointIn,
    session: SessionDep,
    caller: CallerDep,
    box: BoxDep,
    settings: WebhookSettingsDep,
) -> EndpointWithSecret:
    """Register a receiver; the answer carries the signing secret, shown only this once."""
    await check_url(
        body.url,
        allow_private=settings.allow_private_urls,
        allow_loopback=settings.allow_loopback_urls,
    )
    endpoint, secret = service.create_endpoint(
        box, caller.partner_id, url=body.url, events=list(body.events), description=body.description
    )
    return _with_secret(await repository.add_endpoint(session, endpoint), secret)


@router.get("", dependencies=[NeedsRead], response_model=list[EndpointOut])
async def list_endpoints(
    session: SessionDep, caller: CallerDep, language: LanguageDep
) -> list[EndpointOut]:
    endpoints = await repository.list_endpoints(session, caller.partner_id)
    return [service.to_out(e, language) for e in endpoints]


@router.get("/{endpoint_id}", dependencies=[NeedsRead], response_model=EndpointOut)
async def read_endpoint(endpoint: EndpointDep, language: LanguageDep) -> EndpointOut:
    return service.to_out(endpoint, language)


@router.patch("/{endpoint_id}", dependencies=[NeedsAdmin], response_model=EndpointOut)
async def patch_endpoint(
    body: EndpointPatch,
    endpoint: EndpointDep,
    session: SessionDep,
    settings: WebhookSettingsDep,
    language: LanguageDep,
) -> EndpointOut:
    """Change the URL, the events or the description; ``enabled`` disables or re-enables."""
    if body.url is not None:
        await check_url(
            body.url,
            allow_private=settings.allow_private_urls,
            allow_loopback=settings.allow_loopback_urls,
        )
        endpoint.url = body.url
    if body.events is not None:
        endpoint.events = sorted(set(body.events))
    if "description" in body.model_fields_set:
        endpoint.description = body.description
    if body.enabled is True and endpoint.status != ENABLED:
        service.enable(endpoint)
    elif body.enabled is False and endpoint.status == ENABLED:
        reason = render("en", reasons.BY_PARTNER)
        await service.disable(session, endpoint, reason, clock.now(), notify=False)
    await repository.save_endpoint(session)
    return service.to_out(endpoint, language)


@router.delete("/{endpoint_id}", dependencies=[NeedsAdmin], status_code=204)
async def delete_endpoint(endpoint: EndpointDep, session: SessionDep) -> Response:
    """Remove the endpoint with its delivery log; nothing more is sent to it."""
    await repository.delete_endpoint(session, endpoint.id)
    return Response(status_code=204)


@router.post(
    "/{endpoint_id}/rotate-secret",
    dependencies=[NeedsAdmin],
    response_model=EndpointWithSecret,
    responses={200: response_examples(examples.ROTATED)},
)
async def rotate_secret(
    endpoint: EndpointDep, session: SessionDep, box: BoxDep, settings: WebhookSettingsDep
) -> EndpointWithSecret:
    """A new secret, shown once; the old one also signs until the grace period ends."""
    grace = timedelta(hours=settings.rotation_grace_hours)
    secret = service.rotate_secret(box, endpoint, grace, clock.now())
    await repository.save_endpoint(session)
    return _with_secret(endpoint, secret)


@router.get(
    "/{endpoint_id}/deliveries",
    dependencies=[NeedsRead],
    response_model=Page[DeliveryOut],
    responses={200: response_examples(examples.DELIVERIES)},
)
async def list_deliveries(
    endpoint: EndpointDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Page[DeliveryOut]:
    """The delivery log, newest first."""
    rows, next_cursor = await repository.list_deliveries(
        session, endpoint.id, limit=limit, cursor=cursor
    )
    data = [DeliveryOut.model_validate(d, from_attributes=True) for d in rows]
    return Page[DeliveryOut](data=data, next_cursor=next_cursor)


@router.get(
    "/{endpoint_id}/deliveries/{delivery_id}",
    dependencies=[NeedsRead],
    response_model=DeliveryDetail,
)
async def read_delivery(
    delivery_id: uuid.UUID, endpoint: EndpointDep, session: SessionDep
) -> DeliveryDetail:
    """One delivery with its body and every attempt (status or error, truncated answer)."""
    delivery = await repository.get_delivery(session, endpoint.id, delivery_id)
    attempts = await repository.list_attempts(session, delivery.id)
    return DeliveryDetail(
        **DeliveryOut.model_validate(delivery, from_attributes=True).model_dump(),
        payload=delivery.payload,
        attempt_log=[AttemptOut.model_validate(a, from_attributes=True) for a in attempts],
    )


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/replay",
    dependencies=[NeedsAdmin],
    status_code=202,
    response_model=DeliveryOut,
    responses={202: response_examples(examples.REPLAY_QUEUED)},
)
async def replay_delivery(
    delivery_id: uuid.UUID, endpoint: EndpointDep, session: SessionDep
) -> DeliveryOut:
    """Send this delivery again now (same webhook-id and body); one attempt, no retries."""
    delivery = await repository.get_delivery(session, endpoint.id, delivery_id, lock=True)
    await service.replay(session, endpoint, delivery)
    return DeliveryOut.model_validate(delivery, from_attributes=True)


@router.post(
    "/{endpoint_id}/test",
    dependencies=[NeedsAdmin],
    status_code=202,
    response_model=DeliveryOut,
    responses={202: response_examples(examples.TEST_QUEUED)},
)
async def send_test_event(endpoint: EndpointDep, session: SessionDep) -> DeliveryOut:
    """Queue a ``webhook.test`` event to this endpoint, whatever events it subscribed to."""
    delivery = await service.send_test(session, endpoint)
    return DeliveryOut.model_validate(delivery, from_attributes=True)
