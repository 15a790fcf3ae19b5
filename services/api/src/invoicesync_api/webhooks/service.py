"""Webhook rules: publishing events as deliveries, secrets and their rotation, replays,
disabling. Functions take the session first and only flush; the caller commits."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.db.models import Notification
from invoicesync_api.errors.exceptions import Conflict
from invoicesync_api.i18n.catalog import N_, render
from invoicesync_api.i18n.webhook_reasons import disabled_reason
from invoicesync_api.partners import repository as partners
from invoicesync_api.webhooks import repository
from invoicesync_api.webhooks.models import (
    DISABLED,
    ENABLED,
    PENDING,
    WebhookDelivery,
    WebhookEndpoint,
)
from invoicesync_api.webhooks.schemas import EVENT_TYPES, TEST_EVENT, EndpointOut
from invoicesync_shared import clock
from invoicesync_shared.crypto import SecretBox

DISABLED_NOTIFICATION = "webhook_endpoint_disabled"


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_event_id() -> str:
    return "msg_" + uuid.uuid4().hex


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)  # UUID, Decimal: strings, as everywhere in this API


def envelope_json(event_type: str, data: Mapping[str, object], now: datetime) -> str:
    """The body every receiver gets: ``{"type", "timestamp", "data"}``, as JSON text."""
    body = {"type": event_type, "timestamp": now.isoformat(), "data": data}
    return json.dumps(body, default=_json_default)


def envelope(event_type: str, data: Mapping[str, object], now: datetime) -> dict[str, Any]:
    """``envelope_json``'s body as plain JSON values."""
    parsed: dict[str, Any] = json.loads(envelope_json(event_type, data, now))
    return parsed


def _delivery(endpoint: WebhookEndpoint, event_id: str, payload: dict[str, Any]) -> WebhookDelivery:
    return WebhookDelivery(
        endpoint_id=endpoint.id,
        event_id=event_id,
        event_type=payload["type"],
        payload=payload,
        status=PENDING,
        attempts=0,
        next_attempt_at=clock.now(),
    )


async def publish(
    session: AsyncSession,
    *,
    partner_id: uuid.UUID,
    event_type: str,
    data: Mapping[str, object],
) -> int:
    """Queue ``event_type`` for each enabled endpoint of the partner subscribed to it.

    Runs in the caller's transaction (the delivery exists only if the caller's change
    commits); returns how many deliveries were created. Raises ``ValueError`` for an
    event type this API does not document.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    now = clock.now()
    payload = envelope_json(event_type, data, now)  # serialised once, parsed by PostgreSQL
    return await repository.queue_for_subscribed(
        session, partner_id, event_type, new_event_id(), payload, now
    )


async def send_test(session: AsyncSession, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a ``webhook.test`` event for this endpoint alone, due now (its message in
    the partner's default language)."""
    if endpoint.status != ENABLED:
        raise Conflict(N_("The endpoint is disabled; enable it before sending a test event."))
    language = await partners.default_language(session, endpoint.partner_id)
    message = render(language, N_("A test event from invoicesync."))
    data = {"endpoint_id": str(endpoint.id), "message": message}
    payload = envelope(TEST_EVENT, data, clock.now())
    return await repository.add_delivery(session, _delivery(endpoint, new_event_id(), payload))


async def replay(
    session: AsyncSession, endpoint: WebhookEndpoint, delivery: WebhookDelivery
) -> WebhookDelivery:
    """One more attempt now, with the same webhook-id and body (receivers dedup on it)."""
    if endpoint.status != ENABLED:
        raise Conflict(N_("The endpoint is disabled; enable it before replaying."))
    in_flight = delivery.claim_token is not None and delivery.claimed_until is not None
    # A lease on the database's clock (repository.claim_due), so the host's time, not the
    # shared clock: a moved clock must not make a live claim look over.
    if in_flight and delivery.claimed_until > datetime.now(UTC):  # type: ignore[operator]
        # Its outcome, recorded when the attempt ends, would overwrite the replay.
        raise Conflict(
            N_("This delivery is being sent right now; replay it once the attempt ended.")
        )
    if delivery.status != PENDING:
        delivery.max_attempts = delivery.attempts + 1
    delivery.status = PENDING
    delivery.next_attempt_at = clock.now()
    await session.flush()
    return delivery


def create_endpoint(
    box: SecretBox,
    partner_id: uuid.UUID,
    *,
    url: str,
    events: list[str],
    description: str | None,
) -> tuple[WebhookEndpoint, str]:
    """A new enabled endpoint and its secret in plain text (to show once, never again)."""
    secret = new_secret()
    endpoint = WebhookEndpoint(
        partner_id=partner_id,
        url=url,
        events=sorted(set(events)),
        description=description,
        secret=box.encrypt(secret.encode()),
        status=ENABLED,
        consecutive_failures=0,
        failed_deliveries_in_row=0,
    )
    return endpoint, secret


def rotate_secret(
    box: SecretBox, endpoint: WebhookEndpoint, grace: timedelta, now: datetime
) -> str:
    """A new secret; the current one keeps signing too until ``now + grace``.

    Rotating again within the grace period drops the oldest secret.
    """
    secret = new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + grace
    endpoint.secret = box.encrypt(secret.encode())
    return secret


def signing_secrets(box: SecretBox, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets that sign a delivery now: the current one, plus the previous in grace."""
    found = [box.decrypt(endpoint.secret).decode()]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret is not None and expires is not None and now < expires:
        found.append(box.decrypt(endpoint.previous_secret).decode())
    return found


def reset_failures(endpoint: WebhookEndpoint) -> None:
    endpoint.consecutive_failures = 0
    endpoint.failed_deliveries_in_row = 0
    endpoint.failing_since = None


def enable(endpoint: WebhookEndpoint) -> None:
    endpoint.status = ENABLED
    endpoint.disabled_reason = None
    endpoint.disabled_at = None
    reset_failures(endpoint)


async def disable(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    reason: str,
    now: datetime,
    *,
    notify: bool,
) -> None:
    """Stop delivering to ``endpoint``: pending deliveries are canceled (replay resends).

    ``notify`` tells the partner with a Notification (when we disabled it, not they).
    """
    endpoint.status = DISABLED
    endpoint.disabled_reason = reason
    endpoint.disabled_at = now
    await repository.cancel_pending(session, endpoint.id, "the endpoint was disabled")
    if notify:
        session.add(
            Notification(
                partner_id=endpoint.partner_id,
                kind=DISABLED_NOTIFICATION,
                title="A webhook endpoint was disabled",
                body=f"Webhook endpoint {endpoint.id} ({endpoint.url}) was disabled: {reason} "
                "Fix the receiver, then enable the endpoint again (PATCH enabled=true) "
                "and replay the deliveries you need.",
                params={"endpoint_id": str(endpoint.id), "url": endpoint.url, "reason": reason},
            )
        )
    await session.flush()


def to_out(endpoint: WebhookEndpoint, language: str = "en") -> EndpointOut:
    """The endpoint as answered; why it was disabled in ``language``."""
    out = EndpointOut.model_validate(endpoint, from_attributes=True)
    return out.model_copy(
        update={"disabled_reason": disabled_reason(language, out.disabled_reason)}
    )
