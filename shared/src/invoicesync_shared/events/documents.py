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


DocumentKind = Literal[
    "invoice", "credit_note", "purchase_invoice", "purchase_credit_note", "receipt"
]
SALES_KINDS: frozenset[str] = frozenset({"invoice", "credit_note"})
PURCHASE_KINDS: frozenset[str] = frozenset({"purchase_invoice", "purchase_credit_note", "receipt"})
# The kinds that credit another document, and the kind each credits.
CREDITS: dict[str, str] = {"credit_note": "invoice", "purchase_credit_note": "purchase_invoice"}


class DocumentFileRef(BaseModel):
    """A purchase document's original file, by reference: the bytes never travel on
    Kafka. A connector reads them by ``id`` from the ``document_files`` table of the one
    PostgreSQL database (``invoicesync_shared.connectors.document_files.read``, which checks
    ``sha256`` and ``size``): connectors already read the API's integrations there, and an
    HTTP read would need a partner's key that connectors never hold."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: uuid.UUID
    filename: str
    content_type: Literal["application/pdf", "image/jpeg", "image/png"]
    size: int
    sha256: str  # hex


class DocumentSnapshot(BaseModel):
    """Everything a connector needs to book the document; never a secret."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: uuid.UUID
    partner_id: uuid.UUID
    client_id: uuid.UUID
    kind: DocumentKind
    external_id: str
    number: str
    issue_date: date
    due_date: date | None = None
    currency: str
    # The counterparty: the customer of a sales document, the supplier of a purchase one.
    customer: CustomerData
    lines: list[DocumentLine]
    net_total: Decimal
    vat_total: Decimal
    gross_total: Decimal
    credit_note_for: uuid.UUID | None = None
    company: CompanyData | None = None
    revision: int = 0
    file: DocumentFileRef | None = None  # purchase documents: the original file

    @property
    def supplier(self) -> CustomerData | None:
        """A purchase document's supplier (stored as its counterparty, ``customer``)."""
        return self.customer if self.kind in PURCHASE_KINDS else None


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


class PurchaseInvoiceBooked(DocumentSyncRequested):
    TYPE = "com.invoicesync.purchase_invoice.booked"


class PurchaseCreditNoteBooked(DocumentSyncRequested):
    TYPE = "com.invoicesync.purchase_credit_note.booked"


class ReceiptBooked(DocumentSyncRequested):
    TYPE = "com.invoicesync.receipt.booked"


class DocumentUpdated(DocumentSyncRequested):
    """A synced document was edited; systems that accept edits (Yuki) push it again."""

    TYPE = "com.invoicesync.document.updated"


# The event announcing a booked document of each kind.
BOOKED_EVENTS: dict[str, type[DocumentSyncRequested]] = {
    "invoice": InvoiceBooked,
    "credit_note": CreditNoteBooked,
    "purchase_invoice": PurchaseInvoiceBooked,
    "purchase_credit_note": PurchaseCreditNoteBooked,
    "receipt": ReceiptBooked,
}
_REQUESTS: list[type[DocumentSyncRequested]] = [
    DocumentSyncRequested,
    DocumentUpdated,
    *BOOKED_EVENTS.values(),
]
SYNC_REQUEST_TYPES: dict[str, type[DocumentSyncRequested]] = {cls.TYPE: cls for cls in _REQUESTS}
