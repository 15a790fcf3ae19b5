"""Events connectors emit about a push: booked, sent (awaiting a number), failed, deferred.

The same outcome is the same event: ``result_event_id`` derives a result's event id from
what makes the outcome, so a repeated report is deduplicated by the API's inbox.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from invoicesync_shared.events import topics
from invoicesync_shared.events.envelope import Event

# Fixed for ever: changing it would make every repeated result look new to the inbox.
RESULT_ID_NAMESPACE = uuid.UUID("1ec05103-7243-4f08-a19c-8ccc39d000d0")


class SyncResult(Event):
    TOPIC = topics.SYNC_RESULTS

    document_id: uuid.UUID
    integration_id: uuid.UUID
    generation: int = 0
    sync_run_id: uuid.UUID | None = None
    # The document's revision the request carried: the answer to an edit names the same
    # entry as the first push's, and must still be news to the API's inbox.
    revision: int = 0

    def outcome(self) -> tuple[object, ...] | None:
        """What makes this outcome this one (beyond document, integration, generation and
        run), for its deterministic id; None: every report is a new event."""
        return None


class BookingAssigned(SyncResult):
    """The accounting system gave the document its booking number."""

    TYPE = "com.invoicesync.booking.assigned"

    booking_number: str
    remote_id: str
    sent_at: datetime
    customer_created: bool = False
    adopted: bool = False  # found by reference after an unknown outcome, not created

    def outcome(self) -> tuple[object, ...]:
        return (self.remote_id, self.booking_number)


class DocumentSent(SyncResult):
    """Delivered, but the number comes later (a Lexware draft is finalised by a person)."""

    TYPE = "com.invoicesync.document.sent"

    remote_id: str
    sent_at: datetime
    customer_created: bool = False

    def outcome(self) -> tuple[object, ...]:
        return (self.remote_id,)


class SyncFailed(SyncResult):
    """Not booked; ``code`` is stable, ``message`` is for a bookkeeper."""

    TYPE = "com.invoicesync.sync.failed"

    code: str
    message: str
    retryable: bool
    dead_lettered: bool = False

    def outcome(self) -> tuple[object, ...]:
        # With the attempt count (given to ``result_event_id``): a new failure after a
        # retry is a new event, a repeated report of the same one is not. The message too:
        # an integration that went from "error" to "needs reauthorization" says so anew.
        return (self.code, self.message)


class SyncDeferred(SyncResult):
    """Not sent yet: a budget of the system is spent (``reason``, e.g. ``daily_limit``)
    until ``waiting_until``; the document stays pending and is asked for again then."""

    TYPE = "com.invoicesync.sync.deferred"

    waiting_until: datetime
    reason: str

    def outcome(self) -> tuple[object, ...]:
        return (self.waiting_until.isoformat(), self.reason)


# A new event each time (no ``outcome``): a payment can be reversed and made again, and
# the same status twice must then reach the API twice (applying it again changes nothing).
class PaymentStatusChanged(SyncResult):
    TYPE = "com.invoicesync.payment.status_changed"

    payment_status: str  # open, paid


RESULT_TYPES: dict[str, type[SyncResult]] = {
    cls.TYPE: cls
    for cls in (BookingAssigned, DocumentSent, SyncFailed, SyncDeferred, PaymentStatusChanged)
}


def result_event_id(result: SyncResult, *, attempt: int | None = None) -> str:
    """The event id of ``result``: a UUIDv5 of its outcome (and, for a failure, of the
    attempt it ended), random for results whose every report is new."""
    outcome = result.outcome()
    if outcome is None:
        return str(uuid.uuid4())
    parts = (
        result.TYPE,
        result.document_id,
        result.integration_id,
        result.generation,
        result.sync_run_id,
        attempt,
        *outcome,
        # Only an edit's: the ids of answers about unedited documents stay as they were.
        *((f"revision={result.revision}",) if result.revision else ()),
    )
    name = "\x1f".join("" if part is None else str(part) for part in parts)
    return str(uuid.uuid5(RESULT_ID_NAMESPACE, name))
