"""In-memory Yuki state: access keys, sessions, administrations, their documents and archive.

One lock guards everything; handlers hold it for a whole call so a batch is atomic per invoice.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from invoicesync_sandbox.clock import Clock
from invoicesync_sandbox.visibility import indexed_from, visible_from

AnswerForm = Literal["elements", "escaped"]
DuplicateMode = Literal["update", "reject"]
DEFAULT_SESSION_LIFETIME = 3600.0  # Yuki does not document it; one client assumes 24 h


def new_guid() -> str:
    return str(uuid.uuid4())


@dataclass
class Contact:
    id: str
    code: str
    name: str
    country: str = ""
    city: str = ""
    zipcode: str = ""
    address_1: str = ""
    address_2: str = ""
    email: str = ""
    vat_number: str = ""
    coc_number: str = ""
    kind: str = "Company"


@dataclass
class Product:
    id: str
    description: str
    reference: str
    price: Decimal
    vat_percentage: Decimal
    vat_type: int
    gl_account: str


@dataclass
class Line:
    description: str
    quantity: Decimal
    unit_price: Decimal
    net: Decimal
    vat: Decimal
    vat_percentage: Decimal
    vat_type: int
    gl_account: str
    product_id: str
    cost_centre: str | None = None
    project: str | None = None


@dataclass
class Document:
    document_id: str
    reference: str
    subject: str
    date: dt.date
    due_date: dt.date
    currency: str
    payment_method: str
    contact_id: str
    lines: list[Line]
    processed: bool
    # The sandbox's own sequence, assigned when the invoice is booked (Process=true). Stock
    # Yuki publishes no such number: its items carry our Reference (its invoice number), an
    # item ``ID`` and a ``DocumentID``; only the ``identifiers`` switch shows this one.
    booking_number: str | None = None
    # The open item's own GUID (``<Item ID>``), distinct from the DocumentID as in Yuki's
    # documented answers.
    item_id: str = field(default_factory=new_guid)
    paid: Decimal = Decimal("0")
    version: int = 1
    visible_from: float = field(default_factory=visible_from)  # sandbox epoch seconds

    @property
    def net(self) -> Decimal:
        return sum((line.net for line in self.lines), Decimal("0"))

    @property
    def vat(self) -> Decimal:
        return sum((line.vat for line in self.lines), Decimal("0"))

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat

    @property
    def open_amount(self) -> Decimal | None:
        """``None`` for a draft: it has no open item."""
        return self.gross - self.paid if self.processed else None


@dataclass
class ArchiveDocument:
    """A file uploaded into the archive (Archive.asmx), with the figures sent along.

    Yuki's processing (or its bookkeeper) turns it into a booking later; the sandbox keeps
    it as uploaded (no contact, no reference, no tab) until the control API processes it
    (``reference``: the booking's number, ``contact_name``: the supplier Yuki read)."""

    id: str
    administration_id: str
    file_name: str
    content_type: str
    data: bytes
    folder: int
    created: float  # sandbox epoch seconds; also Modified until something changes it
    document_date: dt.date
    currency: str = "EUR"
    amount: Decimal | None = None
    cost_category: str = ""
    payment_method: int = 0
    project: str = ""
    remarks: str = ""
    reference: str = ""  # set when processed
    contact_name: str = ""  # set when processed
    modified: float | None = None  # sandbox epoch seconds of the processing
    visible_from: float = field(default_factory=visible_from)  # sandbox epoch seconds
    indexed_from: float = field(default_factory=indexed_from)  # SearchDocuments finds it


@dataclass
class Administration:
    id: str
    name: str
    domain_id: str
    duplicate_mode: DuplicateMode = "update"
    # Stock Yuki answers an import with Succeeded, Processed, EmailSent, Reference, Subject
    # and Message per invoice, no identifiers: a client reads them back by Reference.
    # True adds DocumentID and BookingNumber to those results and BookingNumber to open
    # items (a sandbox extension no connector test needs).
    identifiers_in_answers: bool = False
    # How the import's Result comes: "elements" (embedded) or "escaped" (one string of
    # escaped XML). Public clients report both; which production sends is unverified.
    answer_form: AnswerForm = "elements"
    closed_months: set[tuple[int, int]] = field(default_factory=set)
    closed_until: dt.date | None = None
    documents: dict[str, Document] = field(default_factory=dict)  # by reference
    archive: dict[str, ArchiveDocument] = field(default_factory=dict)  # by document id
    archive_bookings: int = 0  # uploads processed into bookings (their numbers' counter)
    contacts: list[Contact] = field(default_factory=list)
    products: dict[str, Product] = field(default_factory=dict)  # by description (lower case)
    last_booking: int = 0
    calls: Counter[str] = field(default_factory=Counter)  # SOAP operations naming it

    def next_booking_number(self) -> str:
        self.last_booking += 1
        return f"{self.last_booking:06d}"

    def is_closed(self, day: dt.date) -> bool:
        if self.closed_until is not None and day <= self.closed_until:
            return True
        return (day.year, day.month) in self.closed_months


@dataclass
class Session:
    id: str
    access_key: str
    expires_at: float


@dataclass
class CallStats:
    process_calls: int = 0
    invoices_per_call: list[int] = field(default_factory=list)


class Store:
    """All Yuki state. Use ``with store.lock:`` around reads and writes."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.keys: dict[str, list[str]] = {}  # access key -> administration ids
        self.administrations: dict[str, Administration] = {}
        self.sessions: dict[str, Session] = {}
        self.session_lifetime = DEFAULT_SESSION_LIFETIME
        self.stats = CallStats()

    def create_administration(
        self, name: str, access_key: str | None
    ) -> tuple[str, Administration]:
        key = access_key or uuid.uuid4().hex
        admin = Administration(id=new_guid(), name=name, domain_id=new_guid())
        self.administrations[admin.id] = admin
        self.keys.setdefault(key, []).append(admin.id)
        return key, admin

    def grant(self, access_key: str | None, admin_id: str) -> str:
        """Give a key (a new one when None) access to an administration; the key."""
        key = access_key or uuid.uuid4().hex
        admins = self.keys.setdefault(key, [])
        if admin_id not in admins:
            admins.append(admin_id)
        return key

    def withdraw(self, access_key: str, admin_id: str) -> bool:
        """The key stays valid but no longer reaches the administration; whether it did."""
        admins = self.keys.get(access_key, [])
        if admin_id not in admins:
            return False
        admins.remove(admin_id)
        return True

    def revoke_key(self, access_key: str) -> int:
        """Yuki no longer knows the key, nor its sessions; how many sessions ended."""
        self.keys.pop(access_key, None)
        doomed = [s.id for s in self.sessions.values() if s.access_key == access_key]
        for session_id in doomed:
            del self.sessions[session_id]
        return len(doomed)

    def open_session(self, access_key: str) -> Session | None:
        if access_key not in self.keys:
            return None
        session = Session(new_guid(), access_key, self.clock.now() + self.session_lifetime)
        self.sessions[session.id] = session
        return session

    def session(self, session_id: str | None) -> Session | None:
        """The live session, or ``None`` when unknown or expired (an expired one is dropped)."""
        session = self.sessions.get((session_id or "").strip().lower())
        if session is None:
            return None
        if self.clock.now() >= session.expires_at:
            del self.sessions[session.id]
            return None
        return session

    def administrations_of(self, session: Session) -> list[Administration]:
        return [self.administrations[a] for a in self.keys.get(session.access_key, [])]

    def expire_sessions(self, session_id: str | None, access_key: str | None) -> int:
        doomed = [
            s
            for s in self.sessions.values()
            if (session_id is None or s.id == session_id.lower())
            and (access_key is None or s.access_key == access_key)
        ]
        for s in doomed:
            s.expires_at = self.clock.now()
        return len(doomed)
