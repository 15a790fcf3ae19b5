"""Integration requests and answers; settings are validated per system (their models are
in ``invoicesync_shared.integration_settings``, shared with the connectors)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from invoicesync_api.examples import integrations as examples
from invoicesync_api.schemas import Strict

System = Literal["exact", "lexware", "yuki"]
Status = Literal[
    "pending_authorization", "active", "paused", "needs_reauthorization", "error", "deactivated"
]
BRAKE_AFTER = (
    "The failure brake: after this many documents in a row refused for the same permanent "
    "reason (the same error code, e.g. unknown_vat_code), the integration is paused: "
    "nothing more is sent until POST /v1/integrations/{id}/resume, and nothing is lost."
)


class IntegrationIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.EXACT_IN]})

    system: System
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Per system. exact: division, sales_journal, credit_note_journal, "
        "start_date, default_gl_account (optional), purchase_journal (optional, default "
        "60: purchase invoices, purchase credit notes and receipts). lexware: start_date "
        "(optional; the account is chosen when access is allowed). yuki: access_key, "
        "administration_id, default_gl_account and start_date (optional). A document dated "
        "before start_date is not sent to the integration.",
    )
    nightly_sync: bool = False
    nightly_hour: int = Field(default=2, ge=0, le=23, description="Hour in the client's time zone.")
    failure_brake_after: int = Field(default=3, ge=1, le=1000, description=BRAKE_AFTER)

    nightly_reconciliation_days: int = Field(
        default=0,
        ge=0,
        le=92,
        description="Reconcile the last this many days each night at nightly_hour (0: off).",
    )


class IntegrationPatch(Strict):
    """Only what changes; the rest stays. The remote book itself (Exact's division, Yuki's
    administration) is changed by relink, which keeps the customer links apart."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [examples.PATCH_NIGHTLY, examples.PATCH_JOURNALS]}
    )

    nightly_sync: bool | None = None
    nightly_hour: int | None = Field(
        default=None, ge=0, le=23, description="Hour in the client's time zone."
    )
    failure_brake_after: int | None = Field(default=None, ge=1, le=1000, description=BRAKE_AFTER)

    nightly_reconciliation_days: int | None = Field(
        default=None,
        ge=0,
        le=92,
        description="Reconcile the last this many days each night at nightly_hour (0: off).",
    )
    settings: dict[str, Any] | None = Field(
        default=None,
        description="The settings to change, merged into the stored ones and checked with "
        "the accounting system again.",
    )


class IntegrationHealth(BaseModel):
    connector: Literal["up", "down", "unknown"]
    broker: Literal["up", "down", "unknown"]


class PauseCause(BaseModel):
    """Why sending is paused: what the accounting system refused, in the same words it
    refused the documents with."""

    code: str = Field(examples=["unknown_vat_code"])
    message: str = Field(
        examples=["Exact division 1234567 has no VAT code for 7 %; add one in Exact."]
    )


class IntegrationOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [examples.EXACT_WITH_COUNTS, examples.EXACT_PAUSED]}
    )

    id: uuid.UUID
    client_id: uuid.UUID
    system: System
    status: Status = Field(
        description="`paused`: the failure brake stopped sending after documents in a row "
        "were refused for one reason (`paused_cause`); fix it in the accounting system, then "
        "POST /v1/integrations/{id}/resume. Its documents wait meanwhile (pending, "
        "`waiting_reason` `integration_paused`) and are sent after the resume, in order."
    )
    status_reason: str | None
    settings: dict[str, Any]
    nightly_sync: bool
    nightly_hour: int
    failure_brake_after: int = Field(default=3, description=BRAKE_AFTER)
    paused_cause: PauseCause | None = Field(
        default=None, description="While `paused`: the refusal that paused it; else null."
    )

    nightly_reconciliation_days: int = 0
    activated_at: datetime | None
    deactivated_at: datetime | None
    created_at: datetime
    authorize_url: str | None = Field(
        default=None, description="Open this to allow access (OAuth systems, while pending)."
    )
    counts: dict[str, int] = Field(default_factory=dict, description="Documents per sync status.")
    waiting_until: datetime | None = Field(
        default=None,
        description="When the soonest of its documents held back by the accounting system's "
        "budget goes on (on reads of one integration); null when none waits.",
    )
    waiting_reason: str | None = Field(
        default=None,
        description=(
            "Why they wait: `daily_limit` (Exact's calls per day), `rate_limited` (the "
            "system asked to wait longer than a retry), `error_limit` (too many errors "
            "within the hour: held back before Exact would block the connection)."
        ),
    )
    health: IntegrationHealth | None = Field(
        default=None,
        description="Reachability of this system's connector and of the broker (on reads of "
        "one integration); `unknown` where this API replica cannot tell.",
    )
