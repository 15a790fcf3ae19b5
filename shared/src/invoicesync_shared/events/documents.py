"""Events that ask connectors to push a document: booked, edited, or sent again."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from invoicesync_shared.events import topics
from invoicesync_shared.events.envelope import Event


class Address(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    street: str | None = None
    house_number: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None


class CustomerData(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    external_id: str
    name: str
    vat_number: str | None = None
    company_number: str | None = None
    email: str | None = None
    address: Address | None = None
    country: str | None = None
    is_person: bool = False


class DocumentLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    description: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal  # percent, e.g. 21
    net_amount: Decimal
    vat_amount: Decimal
    gl_account: str | None = None
    cost_centre: str | None = None


class CompanyData(BaseModel):
    """The client's own company data (Lexware needs it complete before a send)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    vat_number: str | None = None
    company_number: str | None = None
    address: Address | None = None
    country: str | None = None
    email: str | None = None


class DocumentSnapshot(BaseModel):
    """Everything a connector needs to book the document; never a secret."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: uuid.UUID
    partner_id: uuid.UUID
    client_id: uuid.UUID
    kind: Literal["invoice", "credit_note"]
    external_id: str
    number: str
    issue_date: date
    due_date: date | None = None
    currency: str
    customer: CustomerData
    lines: list[DocumentLine]
    net_total: Decimal
    vat_total: Decimal
    gross_total: Decimal
    credit_note_for: uuid.UUID | None = None
    company: CompanyData | None = None
    revision: int = 0


class SyncTarget(BaseModel):
    """One integration that must push the document, at its current sync generation."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    integration_id: uuid.UUID
    system: str
    generation: int = 0


class DocumentSyncRequested(Event):
    """Push ``document`` to each target of the connector's own system."""

    TYPE = "com.invoicesync.document.sync_requested"
    TOPIC = topics.DOCUMENTS

    document: DocumentSnapshot
    targets: list[SyncTarget]
    sync_run_id: uuid.UUID | None = None


class InvoiceBooked(DocumentSyncRequested):
    TYPE = "com.invoicesync.invoice.booked"


class CreditNoteBooked(DocumentSyncRequested):
    TYPE = "com.invoicesync.credit_note.booked"


class DocumentUpdated(DocumentSyncRequested):
    """A synced document was edited; systems that accept edits (Yuki) push it again."""

    TYPE = "com.invoicesync.document.updated"


SYNC_REQUEST_TYPES: dict[str, type[DocumentSyncRequested]] = {
    cls.TYPE: cls
    for cls in (DocumentSyncRequested, InvoiceBooked, CreditNoteBooked, DocumentUpdated)
}
