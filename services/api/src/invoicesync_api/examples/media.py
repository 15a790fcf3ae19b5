"""Named examples (OpenAPI Example Objects) and the places FastAPI takes them from.

A model's own ``examples`` show one typical value; named examples give /docs a dropdown
where one operation has several typical answers (pending vs active, booked vs failed).
"""

from __future__ import annotations

from typing import Any

from fastapi.openapi.models import Example

JSON = "application/json"


def named(summary: str, value: Any, description: str | None = None) -> Example:
    example = Example(summary=summary, value=value)
    if description:
        example["description"] = description
    return example


def response_examples(examples: dict[str, Example]) -> dict[str, Any]:
    """A ``responses`` entry: FastAPI merges it into the route's own answer, schema kept.
    A fresh dict per call, since FastAPI writes into what it is given."""
    return {"content": {JSON: {"examples": dict(examples)}}}


def body_examples(examples: dict[str, Example]) -> dict[str, Any]:
    """An ``openapi_extra`` adding named request-body examples, for routes built in a
    factory, where an ``Annotated[..., Body(...)]`` could not see the factory's values."""
    return {"requestBody": {"content": {JSON: {"examples": dict(examples)}}}}
