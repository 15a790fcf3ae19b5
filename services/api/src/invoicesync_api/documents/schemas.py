"""Invoice and credit-note bodies and answers. Money is decimal strings, never floats."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from invoicesync_api.documents import rules
from invoicesync_api.examples import documents as examples
from invoicesync_api.examples import purchase_documents as purchase_examples
from invoicesync_api.examples import story
from invoicesync_api.schemas import (
    AddressIn,
    CountryCode,
    Money,
    Rate,
    StoredMoney,
    StoredRate,
    Strict,
)

SyncStatus = Literal["pending", "sending", "sent", "booked", "failed", "ambiguous"]


def _text(value: str, *, multiline: bool) -> str:
    if not value.strip():
        raise PydanticCustomError("text_blank", "must not be blank")
    return _no_control(value, multiline=multiline)


def _no_control(value: str, *, multiline: bool = False) -> str:
    char = rules.control_character(value, multiline=multiline)
    if char is not None:
        raise PydanticCustomError(
            "text_control_character",
            "must not contain control characters (found U+{code})",
            {"code": f"{ord(char):04X}"},
        )
    return value


def _known_currency(value: str) -> str:
    if value not in rules.CURRENCIES:
        raise PydanticCustomError(
            "currency_unknown",
            "{code} is not an ISO 4217 code of a currency to invoice in",
            {"code": value},
        )
    return value


# Names and numbers: one line of visible text. Descriptions may have several lines.
# Codes may be empty, but hold no control characters either (rules.py).
Name = Annotated[str, AfterValidator(lambda v: _text(v, multiline=False))]
Description = Annotated[str, AfterValidator(lambda v: _text(v, multiline=True))]
Code = Annotated[str, AfterValidator(_no_control)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$"), AfterValidator(_known_currency)]
# Quantities and unit prices below 10^11 in magnitude (rules.py says why).
LineMoney = Annotated[Money, Field(gt=-int(rules.PRICE_LIMIT), lt=int(rules.PRICE_LIMIT))]


def _check_totals(lines: list[LineIn] | None) -> list[LineIn] | None:
    """The document's totals, as totals.compute adds them up, must stay below the limit."""
    if lines is None:
        return lines
    net = vat = Decimal("0.00")
    for line in lines:
        line_net, line_vat = rules.line_amounts(line.quantity, line.unit_price, line.vat_rate)
        net += line_net
        vat += line_vat
    for name, amount in (("net", net), ("VAT", vat), ("gross", net + vat)):
        if rules.too_large(amount):
            raise PydanticCustomError(
                "amount_too_large",
                "the lines add up to a {name} total of {amount}; a document's totals must "
                "stay below 10^12",
                {"name": name, "amount": str(amount)},
            )
    return lines


class CustomerIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [story.CUSTOMER]})

    external_id: Name = Field(min_length=1, max_length=128, examples=["cust-42"])
    name: Name = Field(min_length=1, max_length=200, examples=["Jansen Installatietechniek"])
    vat_number: Code | None = Field(default=None, max_length=32)
    company_number: Code | None = Field(default=None, max_length=32)
    email: EmailStr | None = None
    address: AddressIn | None = None
    country: CountryCode | None = None
    is_person: bool = False


class CustomerOut(BaseModel):
    """As stored: documents accepted before the door's text rules still read back."""

    model_config = ConfigDict(json_schema_extra={"examples": [story.CUSTOMER]})

    external_id: str
    name: str
    vat_number: str | None = None
    company_number: str | None = None
    email: str | None = None
    address: AddressIn | None = None
    country: str | None = None
    is_person: bool = False


class LineIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [story.LINE]})

    description: Description = Field(min_length=1, max_length=500, examples=["Maintenance visit"])
    quantity: LineMoney = Field(examples=["2"])
    unit_price: LineMoney = Field(examples=["75.00"])
    vat_rate: Rate = Field(examples=["21"])
    gl_account: Code | None = Field(default=None, max_length=20)
    cost_centre: Code | None = Field(default=None, max_length=20)

    @model_validator(mode="after")
    def _amount_in_bounds(self) -> LineIn:
        net, vat = rules.line_amounts(self.quantity, self.unit_price, self.vat_rate)
        if rules.too_large(net) or rules.too_large(vat):
            raise PydanticCustomError(
                "amount_too_large",
                "quantity x unit_price is {amount}; a line's amount must stay below 10^12",
                {"amount": str(net)},
            )
        return self


class TotalsIn(Strict):
    """Optional: when sent, they must equal what the lines add up to."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.TOTALS]})

    net: Money | None = None
    vat: Money | None = None
    gross: Money | None = None


class DocumentFields(Strict):
    """What every document's body holds, whatever its kind; the party is the kind's own."""

    client_id: uuid.UUID
    external_id: Name = Field(min_length=1, max_length=128, examples=["inv-2026-0001"])
    number: Name = Field(min_length=1, max_length=30, examples=["2026-0001"])
    status: Literal["draft", "booked"]
    issue_date: date
    due_date: date | None = None
    currency: Currency = Field(
        default="EUR", description="An ISO 4217 code of money (not XXX, XTS or a metal)."
    )
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    totals: TotalsIn | None = None
    credit_note_for: uuid.UUID | None = Field(
        default=None, description="Credit notes: the id of the invoice they credit."
    )

    _lines_in_bounds = field_validator("lines")(_check_totals)

    @property
    def party(self) -> CustomerIn:
        """The counterparty: the customer of a sales document, the supplier of a purchase one."""
        raise NotImplementedError


class DocumentIn(DocumentFields):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.INVOICE_IN]})

    customer: CustomerIn

    @property
    def party(self) -> CustomerIn:
        return self.customer


class FileIn(Strict):
    """The original file, in JSON. Or send the body as multipart/form-data: a part
    ``document`` (this body as JSON, without ``file``) and a part ``file``."""

    model_config = ConfigDict(json_schema_extra={"examples": [purchase_examples.FILE_IN]})

    filename: Name = Field(min_length=1, max_length=255, examples=["invoice-4711.pdf"])
    content_type: str = Field(
        max_length=100,
        description="application/pdf, image/jpeg or image/png; checked against the file's "
        "first bytes.",
        examples=["application/pdf"],
    )
    content_base64: str = Field(
        min_length=1,
        description="The file, base64-encoded (at most 5 MB decoded by default).",
        examples=[purchase_examples.PDF_BASE64],
    )


class PurchaseDocumentFields(DocumentFields):
    """A purchase document without its file: the ``document`` part of a multipart body."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [purchase_examples.PURCHASE_INVOICE_FIELDS]}
    )

    supplier: CustomerIn = Field(description="Who sent the document; matched as customers are.")
    credit_note_for: uuid.UUID | None = Field(
        default=None,
        description="Purchase credit notes: the id of the purchase invoice they credit.",
    )

    @property
    def party(self) -> CustomerIn:
        return self.supplier


class PurchaseDocumentIn(PurchaseDocumentFields):
    model_config = ConfigDict(
        json_schema_extra={"examples": [purchase_examples.PURCHASE_INVOICE_IN]}
    )

    file: FileIn


class DocumentPatchFields(Strict):
    """Fields that may change after creation; lines replace all lines."""

    due_date: date | None = None
    lines: list[LineIn] | None = Field(default=None, min_length=1, max_length=500)
    totals: TotalsIn | None = None

    _lines_in_bounds = field_validator("lines")(_check_totals)

    @property
    def party(self) -> CustomerIn | None:
        """The new counterparty, if the edit sends one."""
        raise NotImplementedError


class DocumentPatch(DocumentPatchFields):
    """Fields that may change after creation; lines replace all lines."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.INVOICE_PATCH]})

    customer: CustomerIn | None = None

    @property
    def party(self) -> CustomerIn | None:
        return self.customer


class PurchaseDocumentPatch(DocumentPatchFields):
    """Fields of a purchase document that may change after creation (not its file)."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.INVOICE_PATCH]})

    supplier: CustomerIn | None = None

    @property
    def party(self) -> CustomerIn | None:
        return self.supplier


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
        default=None,
        description=(
            "Why it waits: `daily_limit` (Exact's calls per day), `rate_limited` (the "
            "system asked to wait longer than a retry), `error_limit` (too many errors "
            "within the hour: held back before Exact would block the connection), "
            "`integration_paused` (the failure brake paused the integration: sent after "
            "POST /v1/integrations/{id}/resume)."
        ),
    )


class LineOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.LINE_OUT]})

    description: str
    quantity: StoredMoney
    unit_price: StoredMoney
    vat_rate: StoredRate
    net_amount: StoredMoney
    vat_amount: StoredMoney
    gl_account: str | None = None
    cost_centre: str | None = None


class TotalsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.TOTALS]})

    net: StoredMoney
    vat: StoredMoney
    gross: StoredMoney


class DocumentOutFields(BaseModel):
    """What every document's answer holds, whatever its kind; the party is the kind's own."""

    id: uuid.UUID
    client_id: uuid.UUID
    external_id: str
    number: str
    status: Literal["draft", "booked"]
    issue_date: date
    due_date: date | None
    currency: str
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


class DocumentOut(DocumentOutFields):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.INVOICE_BOOKED]})

    kind: Literal["invoice", "credit_note"]
    customer: CustomerOut


class FileOut(BaseModel):
    """The stored file (its bytes are not answered here)."""

    id: uuid.UUID
    filename: str
    content_type: str
    size: int
    sha256: str


class PurchaseDocumentOut(DocumentOutFields):
    model_config = ConfigDict(
        json_schema_extra={"examples": [purchase_examples.PURCHASE_INVOICE_OUT]}
    )

    kind: Literal["purchase_invoice", "purchase_credit_note", "receipt"]
    supplier: CustomerOut
    file: FileOut | None
