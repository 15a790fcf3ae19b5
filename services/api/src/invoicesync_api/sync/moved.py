"""What a run moved on, in a bookkeeper's words: how many, until when, and why.

A document whose connector deferred it (a budget of the accounting system is spent) is not
sent in this run; it goes on by itself after ``waiting_until``. The run's ``deferred``
entries say so one by one; the notification says it in one sentence per wait.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from invoicesync_api.integrations.connection import SYSTEM_NAMES

# Why a document waits (``SyncDeferred.reason``); an unknown reason is shown as it is.
REASONS = {
    "daily_limit": "{system}'s daily API limit was reached",
    "rate_limited": "{system} asked us to wait",
    "error_limit": "too many calls were refused by {system} within the hour",
}


def entry(
    *,
    document_id: str,
    number: str | None,
    integration_id: str,
    system: str,
    waiting_until: datetime,
    reason: str,
) -> dict[str, Any]:
    """One moved document in one integration, as the run's ``deferred`` lists it (UTC,
    ISO 8601 with ``Z``, as the API writes every time)."""
    return {
        "document_id": document_id,
        "number": number,
        "integration_id": integration_id,
        "system": system,
        "waiting_until": waiting_until.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "reason": reason,
    }


def sentence(deferred: Sequence[dict[str, Any]], *, noun: str) -> str | None:
    """E.g. "3 documents moved until 2026-12-05 09:00 UTC (Exact Online's daily API limit
    was reached)", one clause per wait, soonest first; None when nothing was moved."""
    clauses = [
        f"{count} {noun}{'s' if count != 1 else ''} moved until {until} ({_why(reason, system)})"
        for count, until, reason, system in waits(deferred)
    ]
    return "; ".join(clauses) or None


def waits(deferred: Sequence[dict[str, Any]]) -> list[tuple[int, str, str, str]]:
    """(how many, until when, why, which system) per wait, soonest first."""
    counted = Counter((e["waiting_until"], e["reason"], e["system"]) for e in deferred)
    return [
        (count, _when(until), reason, system)
        for (until, reason, system), count in sorted(counted.items())
    ]


def _when(until: str) -> str:
    """To the minute, rounded up: never earlier than the document may go on."""
    at = datetime.fromisoformat(until).astimezone(UTC)
    if at.second or at.microsecond:
        at = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _why(reason: str, system: str) -> str:
    template = REASONS.get(reason)
    if template is None:
        return reason.replace("_", " ")
    return template.format(system=SYSTEM_NAMES.get(system, system))
