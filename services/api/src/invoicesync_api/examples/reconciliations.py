"""Examples for reconciliations: a Lexware organisation's November against our invoices."""

from __future__ import annotations

from typing import Any

from fastapi.openapi.models import Example

from invoicesync_api.examples import story
from invoicesync_api.examples.media import named

RECONCILIATION_ID = "3b0f5a8e-61c4-4d1e-9a57-0c2de8b4f913"

RECONCILIATION_IN: dict[str, Any] = {"from": "2026-11-01", "to": "2026-11-30"}
DETAILED_IN: dict[str, Any] = {"from": "2026-11-01", "to": "2026-11-30", "detailed": True}
BODIES: dict[str, Example] = {
    "month": named("A month, entries opened only where needed", RECONCILIATION_IN),
    "detailed": named("A month with VAT per rate of every entry", DETAILED_IN),
}

_BASE: dict[str, Any] = {
    "id": RECONCILIATION_ID,
    "integration_id": story.LEXWARE_ID,
    "client_id": story.GERMAN_CLIENT_ID,
    "system": "lexware",
    "from": "2026-11-01",
    "to": "2026-11-30",
    "detailed": False,
    "trigger": "manual",
    "started_at": "2026-12-01T08:00:00Z",
}
RUNNING: dict[str, Any] = {
    **_BASE,
    "status": "running",
    "failure": None,
    "progress": {"entries_read": 0, "calls_used": 0},
    "calls_used": 0,
    "report": None,
    "finished_at": None,
}
_DOCUMENT = {"id": story.INVOICE_ID, "number": story.INVOICE_NUMBER}
REPORT: dict[str, Any] = {
    "counts": {"ours": 3, "theirs": 2, "matched": 2, "not_ours": 0, "differences": 3},
    "totals": {
        "ours": {"net": "600.00", "vat": {"19": "114.00"}, "gross": "714.00"},
        "theirs": {"net": "0.00", "vat": {}, "gross": "416.50", "entries_with_detail": 0},
        "not_ours": {"entries": 0, "gross": "0.00"},
    },
    "missing_in_accounting": [
        {
            "id": story.THIRD_INVOICE_ID,
            "number": "2026-0003",
            "date": "2026-11-22",
            "gross": "297.50",
            "sync_status": "booked",
            "remote_id": "8f1e2d3c-4b5a-4968-8776-655443322110",
        }
    ],
    "unknown_in_accounting": [],
    "typed_by_hand": [],
    "mismatched": [
        {
            **_DOCUMENT,
            "remote_id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
            "entry_number": "RE0001",
            "date": "2026-11-20",
            "customer": "Jansen Installatietechniek",
            "gross": "202.30",
            "differences": [{"field": "gross", "ours": "178.50", "theirs": "202.30"}],
        }
    ],
    "number_gaps": [],
    "duplicate_numbers": [],
    "payment_differences": [
        {
            "id": story.SECOND_INVOICE_ID,
            "number": "2026-0002",
            "remote_id": "0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f",
            "entry_number": "RE0002",
            "date": "2026-11-21",
            "customer": "Jansen Installatietechniek",
            "gross": "214.20",
            "ours": "open",
            "theirs": "paid",
        }
    ],
    "number_gaps_not_ours": [],
    "numbers_checked": True,
    "repair_plan": [
        {
            "action": "flag_for_person",
            "safe": False,
            "reason": "The entry differs from the document (gross); correct it in the "
            "accounting system, or correct the document and push it again.",
            **_DOCUMENT,
            "remote_id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
        },
        {
            "action": "refresh",
            "safe": True,
            "reason": "The accounting system says paid; read the payment statuses back.",
            "id": story.SECOND_INVOICE_ID,
            "number": "2026-0002",
            "remote_id": "0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f",
        },
        {
            "action": "push_again",
            "safe": True,
            "reason": "The accounting system has no entry for the document; send it again.",
            "id": story.THIRD_INVOICE_ID,
            "number": "2026-0003",
        },
    ],
    "calls_used": 1,
}
RECONCILIATION_FINISHED: dict[str, Any] = {
    **_BASE,
    "status": "finished",
    "failure": None,
    "progress": {"entries_read": 2, "calls_used": 1},
    "calls_used": 1,
    "report": REPORT,
    "finished_at": "2026-12-01T08:00:02Z",
}
FAILED: dict[str, Any] = {
    **RUNNING,
    "status": "failed",
    "failure": {
        "code": "needs_reauthorization",
        "message": "Lexware Office no longer accepts the authorisation; connect the "
        "integration again.",
    },
    "finished_at": "2026-12-01T08:00:01Z",
}
STARTED: dict[str, Example] = {"running": named("Started; the connector reads", RUNNING)}
PROGRESS: dict[str, Example] = {
    "running": named("Still reading", RUNNING),
    "finished": named("Finished: the report and its repair plan", RECONCILIATION_FINISHED),
    "failed": named("Failed: why", FAILED),
}

APPLIED_OUT: dict[str, Any] = {
    "reconciliation_id": RECONCILIATION_ID,
    "applied": [
        {**REPORT["repair_plan"][1], "outcome": "read_back"},
        {**REPORT["repair_plan"][2], "outcome": "requested"},
    ],
    "left_for_a_person": [REPORT["repair_plan"][0]],
    "read_back": {"ok": True, "code": None, "message": None},
}
APPLIED: dict[str, Example] = {"applied": named("Safe actions carried out", APPLIED_OUT)}
