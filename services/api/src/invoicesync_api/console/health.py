"""An integration's health in the words of the clients page, from its status and what
its documents are doing: one pure function, so the page and its tests agree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from invoicesync_shared.states import IntegrationStatus


class Health(StrEnum):
    ACTIVE = "active"  # connected, nothing under way
    SENDING = "sending"  # connected, documents pending or being sent
    PAUSED = "paused"  # deactivated, or held back by the accounting system's budget
    CONNECTING = "connecting"  # waiting for the user's consent
    NEEDS_RECONNECTING = "needs_reconnecting"  # the grant is gone: connect again
    ERROR = "error"


@dataclass(frozen=True)
class Activity:
    """What an integration's sync states say now (console repository)."""

    in_flight: int = 0  # pending or sending
    not_synced: int = 0  # not booked or sent there (pending, sending, failed, ambiguous)
    failed: int = 0
    waiting_until: datetime | None = None  # the soonest end of a budget wait
    waiting_reason: str | None = None


_BY_STATUS = {
    IntegrationStatus.NEEDS_REAUTHORIZATION: Health.NEEDS_RECONNECTING,
    IntegrationStatus.ERROR: Health.ERROR,
    IntegrationStatus.DEACTIVATED: Health.PAUSED,
    IntegrationStatus.PENDING_AUTHORIZATION: Health.CONNECTING,
}


def health(status: str, activity: Activity) -> Health:
    """The status decides unless the integration is active; then its documents do: a
    budget wait pauses it, documents under way mean it is sending."""
    if status in _BY_STATUS:
        return _BY_STATUS[IntegrationStatus(status)]
    if activity.waiting_until is not None:
        return Health.PAUSED
    if activity.in_flight:
        return Health.SENDING
    return Health.ACTIVE
