"""Examples for webhook endpoints and their delivery log."""

from __future__ import annotations

import base64
from typing import Any

from fastapi.openapi.models import Example

from invoicesync_api.examples import story
from invoicesync_api.examples.documents import EXACT_BOOKED
from invoicesync_api.examples.media import named

# Shaped as the API hands them out (whsec_ + base64 of 32 bytes); signs nothing anywhere.
SECRET = "whsec_" + base64.b64encode(b"acme-accountants-example-secret!").decode()
URL = "https://app.acme-accountants.example/webhooks/invoicesync"

ENDPOINT_IN: dict[str, Any] = {
    "url": URL,
    "events": ["document.booked", "document.sync_failed", "sync_run.finished"],
    "description": "Booking numbers into the Acme practice app",
}
ENDPOINT_ALL_EVENTS_IN: dict[str, Any] = {"url": URL, "events": ["*"]}
ENDPOINT_PATCH: dict[str, Any] = {
    "events": ["document.booked", "document.sent", "document.sync_failed"],
}
ENDPOINT_DISABLE_PATCH: dict[str, Any] = {"enabled": False}
ENDPOINT_OUT: dict[str, Any] = {
    "id": story.ENDPOINT_ID,
    "url": URL,
    "events": ["document.booked", "document.sync_failed", "sync_run.finished"],
    "description": "Booking numbers into the Acme practice app",
    "status": "enabled",
    "disabled_reason": None,
    "disabled_at": None,
    "consecutive_failures": 0,
    "previous_secret_expires_at": None,
    "created_at": "2026-11-18T12:00:00Z",
}
ENDPOINT_CREATED: dict[str, Any] = {**ENDPOINT_OUT, "secret": SECRET}
ENDPOINT_ROTATED: dict[str, Any] = {
    **ENDPOINT_OUT,
    "secret": "whsec_" + base64.b64encode(b"acme-accountants-rotated-secret!").decode(),
    "previous_secret_expires_at": "2026-11-24T10:00:00Z",
}

DELIVERY_OUT: dict[str, Any] = {
    "id": story.DELIVERY_ID,
    "event_id": story.EVENT_ID,
    "event_type": "document.booked",
    "status": "delivered",
    "attempts": 2,
    "next_attempt_at": None,
    "last_attempt_at": "2026-11-20T14:04:01Z",
    "last_status_code": 200,
    "last_error": None,
    "delivered_at": "2026-11-20T14:04:01Z",
    "created_at": "2026-11-20T14:03:30Z",
}
DELIVERY_REPLAYED: dict[str, Any] = {
    **DELIVERY_OUT,
    "status": "pending",
    "next_attempt_at": "2026-11-23T10:00:00Z",
}
ATTEMPT_FAILED: dict[str, Any] = {
    "attempted_at": "2026-11-20T14:03:31Z",
    "status_code": 503,
    "error": None,
    "response_body": "Service Unavailable",
    "duration_ms": 118,
}
ATTEMPT_DELIVERED: dict[str, Any] = {
    "attempted_at": "2026-11-20T14:04:01Z",
    "status_code": 200,
    "error": None,
    "response_body": "",
    "duration_ms": 64,
}
# The body the receiver got (and a replay sends again): {"type", "timestamp", "data"}.
DOCUMENT_BOOKED_PAYLOAD: dict[str, Any] = {
    "type": "document.booked",
    "timestamp": "2026-11-20T14:03:30.412391+00:00",
    "data": {
        "document_id": story.INVOICE_ID,
        "kind": "invoice",
        "number": story.INVOICE_NUMBER,
        "client_id": story.CLIENT_ID,
        "integration_id": story.EXACT_ID,
        "system": "exact",
        "status": "booked",
        "booking_number": EXACT_BOOKED["booking_number"],
        "remote_id": EXACT_BOOKED["remote_id"],
        "sent_at": "2026-11-20T14:03:29+00:00",
        "error": None,
    },
}
DELIVERY_DETAIL: dict[str, Any] = {
    **DELIVERY_OUT,
    "payload": DOCUMENT_BOOKED_PAYLOAD,
    "attempt_log": [ATTEMPT_FAILED, ATTEMPT_DELIVERED],
}
TEST_DELIVERY: dict[str, Any] = {
    **DELIVERY_OUT,
    "id": "7c2e9b14-5f3a-4d86-a1e7-3b9d0c6f2a85",
    "event_id": "msg_5e1b7f3c9a2d4e6f8b0c1d2e3f4a5b6c",
    "event_type": "webhook.test",
    "status": "pending",
    "attempts": 0,
    "next_attempt_at": "2026-11-23T10:00:00Z",
    "last_attempt_at": None,
    "last_status_code": None,
    "delivered_at": None,
    "created_at": "2026-11-23T10:00:00Z",
}


DELIVERY_PAGE: dict[str, Any] = {
    "data": [DELIVERY_OUT],
    "next_cursor": story.cursor(DELIVERY_OUT["created_at"], story.DELIVERY_ID),
}

ROTATED: dict[str, Example] = {
    "rotated": named(
        "The new secret; the old one also signs until the date given", ENDPOINT_ROTATED
    ),
}
DELIVERIES: dict[str, Example] = {"first_page": named("A page with more to come", DELIVERY_PAGE)}
REPLAY_QUEUED: dict[str, Example] = {
    "queued": named("Due again now, same webhook-id", DELIVERY_REPLAYED),
}
TEST_QUEUED: dict[str, Example] = {"queued": named("A webhook.test event", TEST_DELIVERY)}
