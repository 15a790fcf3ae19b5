"""Lexware event subscriptions: Lexware calls our API back when a voucher's status or
payment changes, so a finalised draft's number arrives at once (the poller stays as the
fallback for a callback that never comes), and when the connection is revoked."""

from __future__ import annotations

import uuid

import structlog

from connector_lexware.client import LexwareClient
from invoicesync_shared.connectors.errors import SyncError

log = structlog.get_logger()

PATH = "v1/event-subscriptions"
# A draft finalised (its number), a voucher paid or voided, for both kinds we push; and
# the connection revoked in Lexware Office (the integration must be connected again).
EVENT_TYPES = (
    "invoice.status.changed",
    "credit-note.status.changed",
    "payment.changed",
    "token.revoked",
)


async def ensure(
    client: LexwareClient, integration_id: uuid.UUID, scope: str, callback_url: str
) -> list[str]:
    """Subscribe the organisation to what is not subscribed yet at ``callback_url``;
    returns the event types that are. A failure is logged, not raised: polling still
    brings the same news, later."""
    present: set[str] = set()
    try:
        listed = await client.get(integration_id, scope, PATH)
        present = {
            str(s.get("eventType"))
            for s in listed.get("content") or []
            if s.get("callbackUrl") == callback_url
        }
        for event_type in EVENT_TYPES:
            if event_type not in present:
                body = {"eventType": event_type, "callbackUrl": callback_url}
                await client.post(integration_id, scope, PATH, body)
                present.add(event_type)
    except SyncError as exc:
        log.warning(
            "lexware event subscription failed; polling only",
            integration_id=str(integration_id),
            error=str(exc),
        )
    return sorted(present.intersection(EVENT_TYPES))
