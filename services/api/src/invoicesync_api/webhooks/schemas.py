"""Request and response bodies for webhook endpoints and their delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from invoicesync_api.examples import webhooks as examples
from invoicesync_api.schemas import Strict

EventType = Literal[
    "document.booked",
    "document.sent",
    "document.sync_failed",
    "sync_run.finished",
    "integration.status_changed",
    "reconciliation.finished",
]
EVENT_TYPES: frozenset[str] = frozenset(get_args(EventType))
TEST_EVENT = "webhook.test"
Subscription = EventType | Literal["*"]


class EndpointIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [examples.ENDPOINT_IN, examples.ENDPOINT_ALL_EVENTS_IN]}
    )

    url: str = Field(min_length=1, max_length=2048, examples=[examples.URL])
    events: list[Subscription] = Field(
        min_length=1, description='Event types to receive; ["*"] for all.'
    )
    description: str | None = Field(default=None, max_length=500)


class EndpointPatch(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [examples.ENDPOINT_PATCH, examples.ENDPOINT_DISABLE_PATCH]}
    )

    url: str | None = Field(default=None, min_length=1, max_length=2048)
    events: list[Subscription] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = Field(
        default=None, description="false disables the endpoint; true enables it again."
    )


class EndpointOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.ENDPOINT_OUT]})

    id: uuid.UUID
    url: str
    events: list[str]
    description: str | None
    status: Literal["enabled", "disabled"]
    disabled_reason: str | None
    disabled_at: datetime | None
    consecutive_failures: int
    previous_secret_expires_at: datetime | None = Field(
        description="Until then deliveries carry a signature with the previous secret too."
    )
    created_at: datetime


class EndpointWithSecret(EndpointOut):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.ENDPOINT_CREATED]})

    secret: str = Field(description="The signing secret (whsec_...). Shown only this once.")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.DELIVERY_OUT]})

    id: uuid.UUID
    event_id: str = Field(description="The webhook-id header; the same on every attempt.")
    event_type: str
    status: Literal["pending", "delivered", "failed", "canceled"]
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


class AttemptOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.ATTEMPT_FAILED]})

    attempted_at: datetime
    status_code: int | None
    error: str | None
    response_body: str | None
    duration_ms: int


class DeliveryDetail(DeliveryOut):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.DELIVERY_DETAIL]})

    payload: dict[str, Any]
    attempt_log: list[AttemptOut]
