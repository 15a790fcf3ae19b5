"""In-memory state of the Lexware emulator: organisations with their contacts and vouchers.

One lock guards every mutation, so concurrent requests never see half-made numbers.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from invoicesync_sandbox.visibility import visible_from

try:
    from zoneinfo import ZoneInfo

    BERLIN: tzinfo = ZoneInfo("Europe/Berlin")
except Exception:  # no tz database: fall back to CET without summer time
    BERLIN = timezone(timedelta(hours=1))

NUMBER_PREFIX = {"invoice": "RE", "credit-note": "GS"}
FIRST_CONTACT_NUMBER = {"customer": 10000, "vendor": 70000}


def iso(ts: float) -> str:
    """Lexware's date format: ISO-8601 with milliseconds and the Berlin offset."""
    return datetime.fromtimestamp(ts, BERLIN).isoformat(timespec="milliseconds")


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Contact:
    id: str
    organization_id: str
    data: dict[str, Any]
    created: float
    updated: float
    version: int = 0


@dataclass
class Voucher:
    """An invoice or credit note; ``data`` is the validated payload with computed totals."""

    id: str
    organization_id: str
    kind: str  # "invoice" | "credit-note" | a bookkeeping kind (``bookkeeping.KINDS``)
    data: dict[str, Any]
    created: float
    updated: float
    status: str = "draft"
    number: str | None = None
    version: int = 0
    preceding_id: str | None = None
    paid_date: float | None = None
    document_file_id: str | None = None
    files: list[str] = field(default_factory=list)  # uploaded files (bookkeeping vouchers)
    visible_from: float = field(default_factory=visible_from)  # sandbox epoch seconds

    def gross_total(self) -> float:
        return float(self.data["totalPrice"]["totalGrossAmount"])


@dataclass
class StoredFile:
    """An uploaded voucher file (PDF or image), kept as sent."""

    id: str
    content_type: str
    content: bytes
    voucher_id: str | None
    visible_from: float = field(default_factory=visible_from)  # sandbox epoch seconds


@dataclass
class Subscription:
    id: str
    organization_id: str
    event_type: str
    callback_url: str
    created: float


@dataclass
class Organisation:
    id: str
    company_name: str
    api_key: str
    created: float
    tax_type: str = "net"
    small_business: bool = False
    subscription_status: str = "active"
    features: list[str] = field(default_factory=lambda: ["cashbox"])
    business_features: list[str] = field(default_factory=lambda: ["INVOICING", "BOOKKEEPING"])
    legacy_errors: bool = False
    connection_id: str = field(default_factory=new_id)
    contacts: dict[str, Contact] = field(default_factory=dict)
    vouchers: dict[str, Voucher] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    def next_number(self, counter: str) -> int:
        """The next value of a number range (contacts per role, vouchers per kind)."""
        start = FIRST_CONTACT_NUMBER.get(counter, 1)
        value = self.counters.get(counter, start - 1) + 1
        self.counters[counter] = value
        return value

    def next_voucher_number(self, kind: str) -> str:
        return f"{NUMBER_PREFIX[kind]}{self.next_number(kind):04d}"

    def profile(self) -> dict[str, Any]:
        return {
            "organizationId": self.id,
            "companyName": self.company_name,
            "created": {
                "userId": self.id,
                "userName": "Sandbox User",
                "userEmail": "sandbox@example.invalid",
                "date": iso(self.created),
            },
            "connectionId": self.connection_id,
            "features": list(self.features),
            "businessFeatures": list(self.business_features),
            "subscriptionStatus": self.subscription_status,
            "taxType": self.tax_type,
            "smallBusiness": self.small_business,
        }


class Store:
    """All organisations, looked up by id or by public-API key."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.orgs: dict[str, Organisation] = {}

    def create_org(self, company_name: str, now: float, **profile: Any) -> Organisation:
        org = Organisation(
            id=new_id(),
            company_name=company_name,
            api_key=secrets.token_urlsafe(32),
            created=now,
            **profile,
        )
        with self.lock:
            self.orgs[org.id] = org
        return org

    def org_by_key(self, api_key: str) -> Organisation | None:
        with self.lock:
            return next((o for o in self.orgs.values() if o.api_key == api_key), None)

    def get_org(self, org_id: str) -> Organisation | None:
        return self.orgs.get(org_id)
