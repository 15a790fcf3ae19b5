"""Reconciliation requests and answers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from invoicesync_api.examples import reconciliations as examples
from invoicesync_api.schemas import Strict

# The longest period one reconciliation reads (a year and a day, for a leap year's).
MAX_DAYS = 366


class ReconciliationIn(Strict):
    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={"examples": [examples.RECONCILIATION_IN]},
    )

    period_from: date = Field(alias="from", description="First entry date compared.")
    period_to: date = Field(
        alias="to", description=f"Last entry date compared (at most {MAX_DAYS} days after from)."
    )
    detailed: bool = Field(
        default=False,
        description="Also read net and VAT per rate of every entry where the system's list "
        "does not carry them (Lexware: one call per voucher). Default: only where needed.",
    )


class Failure(BaseModel):
    code: str
    message: str


class Progress(BaseModel):
    entries_read: int
    calls_used: int


class ReconciliationOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={"examples": [examples.RECONCILIATION_FINISHED]},
    )

    id: uuid.UUID
    integration_id: uuid.UUID
    client_id: uuid.UUID
    system: str
    period_from: date = Field(alias="from")
    period_to: date = Field(alias="to")
    detailed: bool
    trigger: Literal["manual", "nightly"]
    status: Literal["running", "finished", "failed"]
    failure: Failure | None = None
    progress: Progress
    calls_used: int = Field(description="Calls made to the accounting system for it.")
    report: dict[str, Any] | None = Field(
        default=None,
        description="Once finished: counts; totals (ours, theirs, not_ours: net, vat per "
        "rate, gross); missing_in_accounting, unknown_in_accounting, typed_by_hand, "
        "mismatched, number_gaps, duplicate_numbers, payment_differences, each item naming "
        "our document's id and number where there is one (a number gap names each document "
        "of ours booked under a number in it, in documents; a gap no document of ours was "
        "booked under is in number_gaps_not_ours, not a difference); numbers_checked "
        "(false: no entry of ours read carried a number, so gaps and numbers on two "
        "entries could not be seen); repair_plan (action push_again, adopt, refresh, "
        "flag_for_person or run_duplicate_number_repair; safe: whether apply carries it out).",
    )
    started_at: datetime
    finished_at: datetime | None = None


class ApplyOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.APPLIED_OUT]})

    reconciliation_id: uuid.UUID
    applied: list[dict[str, Any]] = Field(
        description="The safe actions of the plan, each with its outcome: requested (sent "
        "again; the connector looks the document up first), already_on_its_way, "
        "document_gone, not_synced_here, read_back."
    )
    left_for_a_person: list[dict[str, Any]]
    read_back: dict[str, Any] | None = Field(
        default=None, description="How the payment read-back went, when the plan had one."
    )
