"""Events of a reconciliation: the API asks a connector to read a period's entries; the
connector answers with them in chunks and a last event saying how many and at what cost.

The connector only reads; the API compares the entries with its documents and writes the
report (connectors never write the API's tables).
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from invoicesync_shared.events import topics
from invoicesync_shared.events.envelope import Event

Day = date  # a field below is called "date"

# Entries per chunk event: a chunk stays far below the broker's message size.
CHUNK_SIZE = 200


class ReconciliationRequested(Event):
    """Read the entries dated ``period_from``..``period_to`` (inclusive) of one integration.

    On the documents topic, keyed by client id, so a connector takes it in turn with the
    client's pushes."""

    TYPE = "com.invoicesync.reconciliation.requested"
    TOPIC = topics.DOCUMENTS

    reconciliation_id: uuid.UUID
    integration_id: uuid.UUID
    system: str
    period_from: date
    period_to: date
    # Open every entry for its net and VAT per rate, where the list does not give them.
    detailed: bool = False


class RemoteEntry(BaseModel):
    """One sales entry as the accounting system holds it, normalised.

    ``document_id`` is set when the entry is one the connector booked (its ledger knows
    the remote id) or carries our marker; ``reference`` is our document number when the
    entry carries it. ``free_reference``: the reference comes from a field a person fills
    with anything (Exact's YourRef; Yuki's Reference, its own number on an invoice typed
    there), so it names one of ours only if it is one of our numbers; False where the
    connector read it from our own wording (Lexware's reference line). ``net`` and
    ``vat`` are None where the system's cheapest read does not give them (``detailed``
    False); ``paid`` None where it does not say."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    remote_id: str
    kind: str = "invoice"  # invoice, credit_note
    number: str | None = None
    date: Day | None = None
    customer: str | None = None
    reference: str | None = None
    free_reference: bool = False
    document_id: uuid.UUID | None = None
    net: Decimal | None = None
    vat: dict[str, Decimal] | None = None  # per rate in percent ("19") → amount
    gross: Decimal
    paid: bool | None = None
    status: str | None = None  # the system's own word (draft, open, voided…)
    detailed: bool = False


class ReconciliationEntriesRead(Event):
    """A chunk of the period's entries (``chunk`` counts from 0)."""

    TYPE = "com.invoicesync.reconciliation.entries_read"
    TOPIC = topics.SYNC_RESULTS

    reconciliation_id: uuid.UUID
    integration_id: uuid.UUID
    chunk: int
    entries: list[RemoteEntry]
    calls_used: int = 0  # so far, for the progress


class ReconciliationRead(Event):
    """The read is over: ``chunks`` chunks with ``entries`` entries in all, at a cost of
    ``calls_used`` calls to the system; or it failed (``failure_code``, ``message``)."""

    TYPE = "com.invoicesync.reconciliation.read"
    TOPIC = topics.SYNC_RESULTS

    reconciliation_id: uuid.UUID
    integration_id: uuid.UUID
    chunks: int
    entries: int
    calls_used: int
    failure_code: str | None = None
    message: str | None = None


RECONCILIATION_RESULT_TYPES: dict[str, type[Event]] = {
    cls.TYPE: cls for cls in (ReconciliationEntriesRead, ReconciliationRead)
}
