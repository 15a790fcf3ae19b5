"""The clients page's health of an integration (console/health.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from invoicesync_api.console.health import Activity, Health, health

SOON = datetime(2026, 12, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "activity", "expected"),
    [
        ("active", Activity(), Health.ACTIVE),
        ("active", Activity(in_flight=2, not_synced=3, failed=1), Health.SENDING),
        ("active", Activity(failed=4, not_synced=4), Health.ACTIVE),  # failures alone: counted
        ("active", Activity(in_flight=1, waiting_until=SOON), Health.PAUSED),
        ("deactivated", Activity(in_flight=1), Health.PAUSED),
        ("needs_reauthorization", Activity(in_flight=5), Health.NEEDS_RECONNECTING),
        ("error", Activity(), Health.ERROR),
        ("pending_authorization", Activity(), Health.CONNECTING),
    ],
)
def test_health_follows_the_status_then_the_documents(
    status: str, activity: Activity, expected: Health
) -> None:
    assert health(status, activity) is expected
