"""Events connectors emit about an integration as a whole (not one document)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from invoicesync_shared.events import topics
from invoicesync_shared.events.envelope import Event


class IntegrationConnectionLost(Event):
    """The accounting system refused the integration's grant (a refused or spent refresh
    token, a revoked key). The API alone sets the integration's ``status`` and
    ``status_reason``, tells the user once and sends ``integration.status_changed``.

    On the results topic, keyed by client id, so it stays ordered with the results of the
    same client. Carries no secret: ``message`` is the accounting system's refusal in words
    a bookkeeper can act on.
    """

    TYPE = "com.invoicesync.integration.connection_lost"
    TOPIC = topics.SYNC_RESULTS

    integration_id: uuid.UUID
    system: str
    status: Literal["needs_reauthorization", "error"]
    reason: str  # stable code, e.g. refresh_refused
    message: str
    # What the reason's text names (``division``, ``said`` …): the API writes the reason
    # in the reader's language from ``reason`` and these; ``message`` is the English one.
    params: dict[str, str] = Field(default_factory=dict)
    # The refused tokens' issue time; the API ignores the event once they were replaced.
    credentials_issued_at: datetime | None = None
    detected_at: datetime


CONNECTION_TYPES: dict[str, type[IntegrationConnectionLost]] = {
    IntegrationConnectionLost.TYPE: IntegrationConnectionLost
}
