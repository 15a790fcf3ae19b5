"""The preview's answer: per integration, what would be sent and what stands in its way."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from invoicesync_api.examples import previews as examples


class PreviewProblem(BaseModel):
    """Something sending would fail on; ``message`` says what to do about it."""

    code: str = Field(
        description="Stable: before_start_date, integration_inactive, preview_unavailable, "
        "journal_missing, purchase_journal_missing, gl_account_missing, unknown_vat_code, "
        "customer_blocked, supplier_blocked, "
        "incomplete_data, unsupported_currency, unsupported_vat_rate, small_business, "
        "invalid_access_key, administration_not_found, …",
        examples=["unknown_vat_code"],
    )
    field: str | None = Field(
        description="The field to change (dotted, as in a validation error: "
        "``lines.0.vat_rate``, ``customer.address.city``, ``company.address.street``, "
        "``settings.sales_journal``); null for the accounting system's own set-up.",
        examples=["lines.0.vat_rate"],
    )
    message: str = Field(examples=["Exact division 1001 has no VAT code for 7 %; add one."])


class PreviewCustomer(BaseModel):
    """The customer the push would use."""

    action: Literal["linked", "matched", "would_create", "system_matches"] = Field(
        description="linked: the customer an earlier push linked; matched: found in the "
        "accounting system by code, VAT number, Chamber of Commerce number or name "
        "(Lexware: name, then e-mail); would_create: none found, the push creates it "
        "(``payload`` is what it would send); system_matches: Yuki matches or creates the "
        "contact itself on ``code`` inside the invoice call, so which is not known before."
    )
    remote_id: str | None = Field(default=None, description="The matched or linked id.")
    code: str | None = Field(default=None, description="Its code or customer number, if any.")
    payload: dict[str, Any] | None = Field(
        default=None, description="The customer as it would be created (would_create)."
    )


class IntegrationPreview(BaseModel):
    integration_id: uuid.UUID
    system: Literal["exact", "lexware", "yuki"]
    payload: dict[str, Any] | str | None = Field(
        description="The document exactly as the connector would send it: Exact's "
        "SalesEntry and Lexware's voucher as JSON, Yuki's <SalesInvoice> as XML text. "
        "Ids the push gets only by creating something (a new customer) are null. The "
        "description's marker carries a preview id, not the id the stored document gets. "
        "Null where nothing could be mapped (the connector could not be asked)."
    )
    customer: PreviewCustomer | None
    problems: list[PreviewProblem] = Field(
        description="Every problem found against the system's live settings; empty: the "
        "document would be booked as shown."
    )


class PreviewOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PREVIEW]})

    integrations: list[IntegrationPreview] = Field(
        description="One per integration of the client that would book the document."
    )
