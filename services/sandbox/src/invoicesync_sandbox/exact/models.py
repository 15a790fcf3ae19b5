"""The in-memory records of the Exact emulator: apps, users, token chains and division data.

Plain dataclasses; the store owns them and the resources turn them into OData rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from invoicesync_sandbox.visibility import visible_from


def new_id() -> uuid.UUID:
    return uuid.uuid4()


@dataclass
class App:
    """A registered OAuth client (invoicesync's own, or a test app)."""

    client_id: str
    client_secret: str
    redirect_uri: str
    name: str


@dataclass
class User:
    """An Exact user; tokens act on their behalf within the divisions they may access."""

    user_id: uuid.UUID
    user_name: str
    full_name: str
    email: str
    divisions: list[int]
    current_division: int


@dataclass
class TokenChain:
    """One authorisation (code exchange) and the token pairs that descend from it."""

    chain_id: uuid.UUID
    client_id: str
    user_id: uuid.UUID
    access_token: str
    refresh_token: str
    issued_at: float  # sandbox epoch seconds of the newest pair
    access_expires_at: float
    refresh_expires_at: float
    revoked: bool = False


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    user_id: uuid.UUID
    expires_at: float


@dataclass
class Journal:
    code: str
    description: str
    type: int  # 20 sales, 21 return invoice, 22 purchase
    id: uuid.UUID = field(default_factory=new_id)


@dataclass
class GLAccount:
    code: str
    description: str
    type: int  # 110 revenue, 111/121 costs, 20 receivable, 22 payable
    vat_code: str | None
    id: uuid.UUID = field(default_factory=new_id)


@dataclass
class VATCode:
    code: str  # as Exact stores it, e.g. "2  "
    description: str
    percentage: Decimal  # a fraction: 0.21
    type: str  # B including, E excluding, N no VAT
    id: uuid.UUID = field(default_factory=new_id)
    transaction_type: str = "B"  # VATTransactionType: S sales, P purchase, B both
    blocked: bool = False


@dataclass
class Account:
    code: str  # right-aligned, padded to 18 characters
    name: str
    created: datetime
    modified: datetime
    status: str = "C"
    is_sales: bool = True
    blocked: bool = False
    extra: dict[str, object] = field(default_factory=dict)  # VATNumber, City, Email, ...
    id: uuid.UUID = field(default_factory=new_id)


@dataclass
class SalesEntryLine:
    entry_id: uuid.UUID
    line_number: int
    gl_account: uuid.UUID
    amount_fc: Decimal  # excluding VAT
    vat_code: str | None
    vat_percentage: Decimal
    vat_amount_fc: Decimal
    description: str | None
    extra: dict[str, object] = field(default_factory=dict)  # CostCenter, Quantity, ...
    id: uuid.UUID = field(default_factory=new_id)


@dataclass
class Payment:
    amount: Decimal
    paid_at: datetime


@dataclass
class SalesEntry:
    journal: str
    entry_number: int
    customer: uuid.UUID
    entry_date: datetime
    due_date: datetime
    type: int  # 20 sales entry, 21 credit note
    created: datetime
    modified: datetime
    your_ref: str | None = None
    description: str | None = None
    payment_reference: str | None = None
    currency: str = "EUR"
    lines: list[SalesEntryLine] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    receivable_id: uuid.UUID = field(default_factory=new_id)
    receivable_hid: int = 0
    id: uuid.UUID = field(default_factory=new_id)
    visible_from: float = field(default_factory=visible_from)  # sandbox epoch seconds

    def vat_amount(self) -> Decimal:
        return sum((line.vat_amount_fc for line in self.lines), Decimal("0"))

    def amount(self) -> Decimal:
        """The header amount: lines plus VAT."""
        return sum((line.amount_fc for line in self.lines), Decimal("0")) + self.vat_amount()

    def paid(self) -> Decimal:
        return sum((p.amount for p in self.payments), Decimal("0"))

    def open_amount(self) -> Decimal:
        return self.amount() - self.paid()


@dataclass
class PurchaseEntry:
    """A booked purchase invoice (Type 30) or purchase credit note (31); its lines reuse
    the sales line record, the rules for G/L, VAT and amounts being the same."""

    journal: str
    entry_number: int
    supplier: uuid.UUID
    entry_date: datetime
    due_date: datetime
    type: int
    created: datetime
    modified: datetime
    your_ref: str | None = None
    description: str | None = None
    payment_reference: str | None = None
    currency: str = "EUR"
    document: uuid.UUID | None = None
    lines: list[SalesEntryLine] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)  # paid to the supplier
    payment_id: uuid.UUID = field(default_factory=new_id)  # its cashflow/Payments row
    id: uuid.UUID = field(default_factory=new_id)
    visible_from: float = field(default_factory=visible_from)

    def vat_amount(self) -> Decimal:
        return sum((line.vat_amount_fc for line in self.lines), Decimal("0"))

    def amount(self) -> Decimal:
        return sum((line.amount_fc for line in self.lines), Decimal("0")) + self.vat_amount()

    def open_amount(self) -> Decimal:
        return self.amount() - sum((p.amount for p in self.payments), Decimal("0"))


@dataclass
class Document:
    """documents/Documents: the container an attachment (the file) belongs to."""

    subject: str
    type: int
    created: datetime
    account: uuid.UUID | None = None
    document_date: datetime | None = None
    entry_id: uuid.UUID | None = None  # FinancialTransactionEntryID
    id: uuid.UUID = field(default_factory=new_id)


@dataclass
class DocumentAttachment:
    document: uuid.UUID
    file_name: str
    data: bytes
    id: uuid.UUID = field(default_factory=new_id)


@dataclass
class Division:
    code: int
    description: str
    customer_name: str
    journals: dict[str, Journal] = field(default_factory=dict)
    gl_accounts: dict[uuid.UUID, GLAccount] = field(default_factory=dict)
    vat_codes: dict[str, VATCode] = field(default_factory=dict)
    accounts: dict[uuid.UUID, Account] = field(default_factory=dict)
    entries: dict[uuid.UUID, SalesEntry] = field(default_factory=dict)
    purchase_entries: dict[uuid.UUID, PurchaseEntry] = field(default_factory=dict)
    documents: dict[uuid.UUID, Document] = field(default_factory=dict)
    attachments: dict[uuid.UUID, DocumentAttachment] = field(default_factory=dict)
    # Creation order of every entity ever made here, for paging with $skiptoken.
    seq: dict[uuid.UUID, int] = field(default_factory=dict)
    next_hid: int = 1

    def remember(self, entity_id: uuid.UUID) -> None:
        self.seq[entity_id] = len(self.seq) + 1
