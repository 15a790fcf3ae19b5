"""The chaos run's webhook checks must be able to fire: an outcome announced twice, a
settled document announced failed afterwards, a done document never announced."""

from __future__ import annotations

from typing import Any

from tests.support.accounting_state import Findings

DOCUMENT, INTEGRATION = "d-1", "i-1"


def event(kind: str, status: str, at: str, code: str | None = None) -> dict[str, Any]:
    return {
        "type": kind,
        "timestamp": at,
        "data": {
            "document_id": DOCUMENT,
            "integration_id": INTEGRATION,
            "number": "CH00-00001",
            "status": status,
            "remote_id": "r-1" if status == "booked" else None,
            "error": {"code": code} if code else None,
        },
    }


def document(status: str) -> dict[str, Any]:
    state = {"integration_id": INTEGRATION, "system": "exact", "status": status}
    return {"id": DOCUMENT, "number": "CH00-00001", "sync": [state]}


def test_one_outcome_announced_twice_is_a_duplicate() -> None:
    findings = Findings()
    booked = event("document.booked", "booked", "2026-12-03T10:00:00")
    findings.add_webhooks([booked, {**booked, "timestamp": "2026-12-03T10:00:05"}], [])
    assert len(findings.duplicate_webhooks) == 1
    assert findings.flipped == []


def test_a_failure_after_booked_is_a_flip() -> None:
    findings = Findings()
    events = [
        event("document.booked", "booked", "2026-12-03T10:00:00"),
        event("document.sync_failed", "failed", "2026-12-03T10:00:09", "integration_inactive"),
    ]
    findings.add_webhooks(events, [document("failed")])
    assert len(findings.flipped) == 2  # in the webhooks, and against the API's final state
    assert findings.duplicate_webhooks == []


def test_failed_then_booked_is_no_flip_and_each_outcome_once_is_fine() -> None:
    findings = Findings()
    events = [
        event("document.sync_failed", "ambiguous", "2026-12-03T10:00:00", "outcome_unknown"),
        event("document.booked", "booked", "2026-12-03T10:00:09"),
    ]
    findings.add_webhooks(events, [document("booked")])
    assert (findings.flipped, findings.duplicate_webhooks, findings.missing_webhooks) == (
        [],
        [],
        [],
    )


def test_a_done_document_never_announced_is_missing() -> None:
    findings = Findings()
    findings.add_webhooks([], [document("booked")])
    assert findings.missing_webhooks == ["CH00-00001 (exact)"]
