"""Invoice and credit-note bodies and answers. Money is decimal strings, never floats."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from invoicesync_api.examples import documents as examples
from invoicesync_api.examples import story
from invoicesync_api.schemas import AddressIn, CountryCode, Money, Rate, Strict

SyncStatus = Literal["pending", "sending", "sent", "booked", "failed", "ambiguous"]


class CustomerIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [story.CUSTOMER]})

    external_id: str = Field(min_length=1, max_length=128, examples=["cust-42"])
    name: str = Field(min_length=1, max_length=200, examples=["Jansen Installatietechniek"])
    vat_number: str | None = Field(default=None, max_length=32)
    company_number: str | None = Field(default=None, max_length=32)
    email: EmailStr | None = None
    address: AddressIn | None = None
    country: CountryCode | None = None
    is_person: bool = False


class LineIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [story.LINE]})

    description: str = Field(min_length=1, max_length=500, examples=["Maintenance visit"])
    quantity: Money = Field(examples=["2"])
    unit_price: Money = Field(examples=["75.00"])
    vat_rate: Rate = Field(examples=["21"])
    gl_account: str | None = Field(default=None, max_length=20)
    cost_centre: str | None = Field(default=None, max_length=20)


class TotalsIn(Strict):
    """Optional: when sent, they must equal what the lines add up to."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.TOTALS]})

    net: Money | None = None
    vat: Money | None = None
    gross: Money | None = None


class DocumentIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.INVOICE_IN]})

    client_id: uuid.UUID
    external_id: str = Field(min_length=1, max_length=128, examples=["inv-2026-0001"])
    number: str = Field(min_length=1, max_length=30, examples=["2026-0001"])
    status: Literal["draft", "booked"]
    issue_date: date
    due_date: date | None = None
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    customer: CustomerIn
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    totals: TotalsIn | None = None
    credit_note_for: uuid.UUID | None = Field(
        default=None, description="Credit notes: the id of the invoice they credit."
    )

    @model_validator(mode="after")
    def _due_after_issue(self) -> DocumentIn:
        if self.due_date is not None and self.due_date < self.issue_date:
            raise ValueError("due_date is before issue_date")
        return self


class DocumentPatch(Strict):
    """Fields that may change after creation; lines replace all lines."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.INVOICE_PATCH]})

    due_date: date | None = None
    customer: CustomerIn | None = None
    lines: list[LineIn] | None = Field(default=None, min_length=1, max_length=500)
    totals: TotalsIn | None = None


class SyncError(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [examples.EXACT_FAILED_RETRYABLE["error"]]}
    )

    code: str
    message: str
    retryable: bool


class SyncStateOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.EXACT_BOOKED]})

    integration_id: uuid.UUID
    system: str
    status: SyncStatus
    booking_number: str | None
    remote_id: str | None
    sent_at: datetime | None
    payment_status: str | None
    error: SyncError | None
    duplicate_of: uuid.UUID | None = None
    waiting_until: datetime | None = Field(
        default=None,
        description="Pending and held back until then (the accounting system's budget for "
        "the day is spent); it goes on by itself after this time.",
    )
    waiting_reason: str | None = Field(
        default=None, description="Why it waits: `daily_limit` (Exact's calls per day)."
    )


class LineOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.LINE_OUT]})

    description: str
    quantity: Money
    unit_price: Money
    vat_rate: Rate
    net_amount: Money
    vat_amount: Money
    gl_account: str | None = None
    cost_centre: str | None = None


class TotalsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.TOTALS]})

    net: Money
    vat: Money
    gross: Money


class DocumentOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.INVOICE_BOOKED]})

    id: uuid.UUID
    kind: Literal["invoice", "credit_note"]
    client_id: uuid.UUID
    external_id: str
    number: str
    status: Literal["draft", "booked"]
    issue_date: date
    due_date: date | None
    currency: str
    customer: CustomerIn
    lines: list[LineOut]
    totals: TotalsOut
    credit_note_for: uuid.UUID | None
    booking_number: str | None = Field(
        description="The first booking number any integration gave it; null = not synced."
    )
    sync: list[SyncStateOut]
    created_at: datetime
    updated_at: datetime
    warnings: list[str] = Field(default_factory=list)
