"""The steps every reconciliation e2e test repeats, through the public API: a document's
sync state, reconciling a period to its finished report, applying its plan, the plan as
comparable tuples, and what a clean report is."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import wait_for
from tests.support.reads import read_json

PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}
# Every list of differences a report has; a clean report has each of them empty.
DIFFERENCES = (
    "missing_in_accounting",
    "unknown_in_accounting",
    "typed_by_hand",
    "mismatched",
    "number_gaps",
    "duplicate_numbers",
    "payment_differences",
)


def sync_of(partner: httpx.Client, invoice_id: str) -> dict[str, Any]:
    (state,) = read_json(partner, f"/v1/invoices/{invoice_id}")["sync"]
    return dict(state)


def once(partner: httpx.Client, invoice_id: str, status: str) -> dict[str, Any]:
    """The document's sync state once it has ``status`` (booked, sent)."""
    return wait_for(
        lambda: state if (state := sync_of(partner, invoice_id))["status"] == status else None
    )


def reconcile(
    partner: httpx.Client, integration_id: str, period: dict[str, str] = PERIOD
) -> dict[str, Any]:
    """Start a reconciliation of ``period`` and wait for it to finish."""
    started = partner.post(f"/v1/integrations/{integration_id}/reconciliations", json=period)
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "running"
    url = f"/v1/integrations/{integration_id}/reconciliations/{started.json()['id']}"

    def over() -> dict[str, Any] | None:
        body: dict[str, Any] = read_json(partner, url)
        return body if body["status"] != "running" else None

    done = wait_for(over, 60)
    assert done["status"] == "finished", done
    return done


def apply(partner: httpx.Client, integration_id: str, reconciliation_id: str) -> dict[str, Any]:
    applied = partner.post(
        f"/v1/integrations/{integration_id}/reconciliations/{reconciliation_id}/apply"
    )
    assert applied.status_code == 200, applied.text
    return dict(applied.json())


def plan_of(report: dict[str, Any]) -> set[tuple[Any, ...]]:
    """The repair plan as (action, document id, remote id, safe)."""
    return {
        (a["action"], a.get("id"), a.get("remote_id"), a["safe"]) for a in report["repair_plan"]
    }


def assert_clean(report: dict[str, Any], documents: int) -> None:
    """No difference left: every list empty, nothing planned, all ``documents`` matched,
    and their totals equal."""
    assert {name: report[name] for name in DIFFERENCES if report[name]} == {}, report
    assert report["repair_plan"] == []
    counts = report["counts"]
    assert (counts["ours"], counts["theirs"], counts["matched"]) == (documents,) * 3, counts
    assert counts["differences"] == 0
    ours, theirs = report["totals"]["ours"], report["totals"]["theirs"]
    assert theirs["gross"] == ours["gross"], report["totals"]
    if theirs["entries_with_detail"] == documents:  # net and VAT where the system gave them
        assert (theirs["net"], theirs["vat"]) == (ours["net"], ours["vat"]), report["totals"]
