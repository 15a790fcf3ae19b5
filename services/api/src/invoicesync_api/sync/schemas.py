"""Sync-run requests and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from invoicesync_api.examples import sync as examples
from invoicesync_api.schemas import Strict


class SyncRunIn(Strict):
    """Which documents to send: a whole client, one integration, or chosen documents."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                examples.RUN_FOR_DOCUMENTS_IN,
                examples.RUN_FOR_INTEGRATION_IN,
                examples.RUN_FOR_CLIENT_IN,
            ]
        }
    )

    client_id: uuid.UUID | None = None
    integration_id: uuid.UUID | None = None
    document_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _something_chosen(self) -> SyncRunIn:
        if not (self.client_id or self.integration_id or self.document_ids):
            raise ValueError("name a client_id, an integration_id or document_ids")
        return self


class RunError(BaseModel):
    document_id: uuid.UUID
    number: str | None = None
    integration_id: uuid.UUID
    system: str
    code: str
    message: str


class SyncRunOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.RUN_FINISHED]})

    id: uuid.UUID
    client_id: uuid.UUID
    integration_ids: list[uuid.UUID]
    trigger: Literal["manual", "nightly"]
    status: Literal["running", "finished"]
    totals: dict[str, int] = Field(
        description="documents_total, documents_synced, documents_failed, documents_deferred, "
        "documents_pending, customers_synced, suppliers_synced (made for purchase documents) — "
        "live while the run is going. A run finishes when every document is synced, failed or "
        "deferred."
    )
    errors: list[dict[str, Any]]
    deferred: list[dict[str, Any]] = Field(
        description="Documents moved past this run because the accounting system's budget "
        "was spent (e.g. Exact's daily API limit), one per document and integration: "
        "document_id, number, integration_id, system, waiting_until (ISO 8601) and reason "
        "(daily_limit, rate_limited, error_limit). They stay pending and are sent by "
        "themselves after waiting_until; that later answer does not change this run."
    )
    started_at: datetime
    finished_at: datetime | None
