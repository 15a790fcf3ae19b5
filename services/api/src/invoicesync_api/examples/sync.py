"""Examples for sync runs, the notifications they leave, and dead letters."""

from __future__ import annotations

from typing import Any

from fastapi.openapi.models import Example

from invoicesync_api.examples import story
from invoicesync_api.examples.media import named

PERIOD_CLOSED_MESSAGE = (
    "The accounting period of this document is closed in Yuki; reopen it there or change "
    "the document date. Yuki said: Period 2026-11 is closed."
)
EXACT_UNAVAILABLE_MESSAGE = (
    "exact was not reachable after several attempts (Exact answered 503); retry later."
)

RUN_FOR_DOCUMENTS_IN: dict[str, Any] = {"document_ids": [story.INVOICE_ID, story.SECOND_INVOICE_ID]}
RUN_FOR_INTEGRATION_IN: dict[str, Any] = {"integration_id": story.EXACT_ID}
RUN_FOR_CLIENT_IN: dict[str, Any] = {"client_id": story.CLIENT_ID}

# Two documents for the client's two integrations: four pushes.
RUN_STARTED: dict[str, Any] = {
    "id": story.SYNC_RUN_ID,
    "client_id": story.CLIENT_ID,
    "integration_ids": [story.EXACT_ID, story.YUKI_ID],
    "trigger": "manual",
    "status": "running",
    "totals": {
        "documents_total": 4,
        "documents_synced": 0,
        "documents_failed": 0,
        "documents_deferred": 0,
        "customers_synced": 0,
        "suppliers_synced": 0,
        "documents_pending": 4,
    },
    "errors": [],
    "deferred": [],
    "started_at": "2026-11-21T09:00:04Z",
    "finished_at": None,
}
RUN_ERRORS: list[dict[str, Any]] = [
    {
        "document_id": story.SECOND_INVOICE_ID,
        "number": "2026-0002",
        "integration_id": story.YUKI_ID,
        "system": "yuki",
        "code": "period_closed",
        "message": PERIOD_CLOSED_MESSAGE,
    }
]
RUN_TOTALS: dict[str, int] = {
    "documents_total": 4,
    "documents_synced": 3,
    "documents_failed": 1,
    "documents_deferred": 0,
    "customers_synced": 2,
    "suppliers_synced": 0,
    "documents_pending": 0,
}
RUN_FINISHED: dict[str, Any] = {
    **RUN_STARTED,
    "status": "finished",
    "totals": RUN_TOTALS,
    "errors": RUN_ERRORS,
    "finished_at": "2026-11-21T09:00:11Z",
}
REPAIR_RUN_STARTED: dict[str, Any] = {
    "id": story.REPAIR_RUN_ID,
    "client_id": story.CLIENT_ID,
    "integration_ids": [story.EXACT_ID],
    "trigger": "manual",
    "status": "running",
    "totals": {
        "documents_total": 12,
        "documents_synced": 0,
        "documents_failed": 0,
        "documents_deferred": 0,
        "customers_synced": 0,
        "suppliers_synced": 0,
        "documents_pending": 12,
    },
    "errors": [],
    "deferred": [],
    "started_at": "2026-11-25T08:30:01Z",
    "finished_at": None,
}

# Exact's day was spent after the first document: the second waits for the reset (it stays
# pending and goes on by itself), and the run finishes without it.
RUN_NIGHTLY_MOVED: dict[str, Any] = {
    "id": story.NIGHTLY_RUN_ID,
    "client_id": story.CLIENT_ID,
    "integration_ids": [story.EXACT_ID],
    "trigger": "nightly",
    "status": "finished",
    "totals": {
        "documents_total": 2,
        "documents_synced": 1,
        "documents_failed": 0,
        "documents_deferred": 1,
        "customers_synced": 0,
        "suppliers_synced": 0,
        "documents_pending": 0,
    },
    "errors": [],
    "deferred": [
        {
            "document_id": story.THIRD_INVOICE_ID,
            "number": "2026-0003",
            "integration_id": story.EXACT_ID,
            "system": "exact",
            "waiting_until": "2026-11-22T23:00:00Z",
            "reason": "daily_limit",
        }
    ],
    "started_at": "2026-11-22T01:00:02Z",
    "finished_at": "2026-11-22T01:00:09Z",
}

NOTIFICATION: dict[str, Any] = {
    "id": story.NOTIFICATION_ID,
    "kind": "sync_run_finished",
    "client_id": story.CLIENT_ID,
    "sync_run_id": story.SYNC_RUN_ID,
    "title": "Sync finished with 1 error",
    "body": "3 of 4 documents and 2 customers synced; 1 failed.",
    "counts": RUN_TOTALS,
    "errors": RUN_ERRORS,
    "read_at": None,
    "created_at": "2026-11-21T09:00:11Z",
}
NOTIFICATION_READ: dict[str, Any] = {**NOTIFICATION, "read_at": "2026-11-21T09:14:52Z"}

DEAD_LETTER: dict[str, Any] = {
    "document_id": story.THIRD_INVOICE_ID,
    "number": "2026-0003",
    "integration_id": story.EXACT_ID,
    "system": "exact",
    "status": "failed",
    "code": "unavailable",
    "message": EXACT_UNAVAILABLE_MESSAGE,
}
REPLAY_ALL_IN: dict[str, Any] = {}
REPLAY_ONE_INTEGRATION_IN: dict[str, Any] = {"integration_id": story.EXACT_ID}
REPLAYED: dict[str, Any] = {"documents": 1, "deliveries": 1}

RUN_BODIES: dict[str, Example] = {
    "documents": named('"Send to accounting" for chosen documents', RUN_FOR_DOCUMENTS_IN),
    "integration": named("Everything one integration has not synced yet", RUN_FOR_INTEGRATION_IN),
    "client": named("Everything the client's integrations have not synced yet", RUN_FOR_CLIENT_IN),
}
RUN_ACCEPTED: dict[str, Example] = {
    "started": named("Started; poll GET /v1/sync-runs/{id}", RUN_STARTED),
}
RUN_PROGRESS: dict[str, Example] = {
    "running": named("Still going: live totals", RUN_STARTED),
    "finished": named("Finished, with one error", RUN_FINISHED),
    "moved": named("Finished, one document moved until Exact's daily reset", RUN_NIGHTLY_MOVED),
}
NOTIFICATION_MARKED: dict[str, Example] = {"read": named("Read", NOTIFICATION_READ)}
