"""Request and response bodies for a partner's API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from invoicesync_api.api_keys.scopes import Scope
from invoicesync_api.examples import api_keys as examples
from invoicesync_api.schemas import Strict

# A day by default: long enough to roll a new key out to every process that uses it.
DEFAULT_OVERLAP_SECONDS = 86_400
MAX_OVERLAP_SECONDS = 30 * 86_400


class ApiKeyIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.KEY_IN, examples.WRITER_IN]})

    name: str = Field(min_length=1, max_length=100, description="What the key is for.")
    scopes: list[Scope] = Field(
        min_length=1,
        max_length=3,
        description="read: every GET; write: clients, documents, sync runs, retries; admin: "
        "integrations' connect and lifecycle, webhook endpoints, API keys.",
    )

    @field_validator("scopes")
    @classmethod
    def _once_each(cls, scopes: list[Scope]) -> list[Scope]:
        if len(set(scopes)) != len(scopes):
            raise ValueError("each scope at most once")
        return scopes


class RotateIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.ROTATE_IN]})

    overlap_seconds: int = Field(
        default=DEFAULT_OVERLAP_SECONDS,
        ge=0,
        le=MAX_OVERLAP_SECONDS,
        description="How long the old key keeps working next to the new one (0: ends now).",
    )


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.KEY_OUT]})

    id: uuid.UUID
    name: str
    scopes: list[Scope]
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: datetime
    expires_at: datetime | None = Field(
        description="Set by a rotation: the key stops working then."
    )
    last_used_at: datetime | None = Field(
        description="Last successful authentication, to the minute (written at most once a minute)."
    )


class ApiKeyCreated(ApiKeyOut):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.KEY_CREATED]})

    api_key: str = Field(description="The secret, shown only this once; only its hash is kept.")


class ApiKeyRotated(ApiKeyCreated):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.ROTATED]})

    previous: ApiKeyOut = Field(description="The rotated key, working until its expires_at.")
