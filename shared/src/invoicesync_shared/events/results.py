"""Events connectors emit about a push: booked, sent (awaiting a number), failed."""

from __future__ import annotations

import uuid
from datetime import datetime

from invoicesync_shared.events import topics
from invoicesync_shared.events.envelope import Event


class SyncResult(Event):
    TOPIC = topics.SYNC_RESULTS

    document_id: uuid.UUID
    integration_id: uuid.UUID
    generation: int = 0
    sync_run_id: uuid.UUID | None = None


class BookingAssigned(SyncResult):
    """The accounting system gave the document its booking number."""

    TYPE = "com.invoicesync.booking.assigned"

    booking_number: str
    remote_id: str
    sent_at: datetime
    customer_created: bool = False
    adopted: bool = False  # found by reference after an unknown outcome, not created


class DocumentSent(SyncResult):
    """Delivered, but the number comes later (a Lexware draft is finalised by a person)."""

    TYPE = "com.invoicesync.document.sent"

    remote_id: str
    sent_at: datetime
    customer_created: bool = False


class SyncFailed(SyncResult):
    """Not booked; ``code`` is stable, ``message`` is for a bookkeeper."""

    TYPE = "com.invoicesync.sync.failed"

    code: str
    message: str
    retryable: bool
    dead_lettered: bool = False


class PaymentStatusChanged(SyncResult):
    TYPE = "com.invoicesync.payment.status_changed"

    payment_status: str  # open, paid


RESULT_TYPES: dict[str, type[SyncResult]] = {
    cls.TYPE: cls for cls in (BookingAssigned, DocumentSent, SyncFailed, PaymentStatusChanged)
}
