"""Text without NUL characters: no PostgreSQL text column can store one, so a model that
takes what a user sends refuses them at the door, naming the field."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, field_validator


def has_nul(value: Any) -> bool:
    """Whether a string, or any string inside a dict or list, holds a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    return False


class NulFree(BaseModel):
    """A model whose every field refuses NUL characters."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if has_nul(value):
            raise ValueError("text must not contain NUL (\\u0000) characters")
        return value
