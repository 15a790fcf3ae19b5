"""How rate limits appear in the OpenAPI document: a 429 on every operation a partner key
calls, and the RateLimit headers on each of its answers (the limiter is rate_limits.py)."""

from __future__ import annotations

from typing import Any

from invoicesync_api.errors.problem import PROBLEM_JSON, problem_body
from invoicesync_api.examples.media import named

RATE_LIMITED_EXAMPLES = {
    "rate_limited": named(
        "The key sent more than its limit",
        problem_body(
            429,
            "rate_limited",
            "Too many requests",
            "This API key sent more than 120 requests at once or more than 600 a minute; "
            "try again in 3 s.",
            "/v1/invoices",
            retry_after=3,
        ),
    ),
    "failed_authentications": named(
        "Too many failed authentications from this address (whatever key is sent)",
        problem_body(
            429,
            "rate_limited",
            "Too many requests",
            "Too many failed authentications from this address; try again in 3 s.",
            "/v1/invoices",
            retry_after=3,
        ),
    ),
}
# The headers of draft-ietf-httpapi-ratelimit-headers-11, on every answer to a valid key.
RATE_LIMIT_HEADERS: dict[str, Any] = {
    "RateLimit-Policy": {
        "description": "The key's limit: `q` requests at once, refilled over `w` seconds "
        "(a sustained rate of q/w a second).",
        "schema": {"type": "string"},
        "example": '"default";q=120;w=12',
    },
    "RateLimit": {
        "description": "What is left of it: `r` requests now, full again in `t` seconds.",
        "schema": {"type": "string"},
        "example": '"default";r=117;t=1',
    },
}
RETRY_AFTER_HEADER: dict[str, Any] = {
    "description": "Seconds until a request fits again.",
    "schema": {"type": "integer", "minimum": 1},
    "example": 3,
}


def rate_limits_documented(schema: dict[str, Any]) -> dict[str, Any]:
    """Every operation a partner key calls (under /v1, with a bearer) answers 429 past its
    limit, and every answer to it carries the RateLimit headers; admin calls have neither."""
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            if not path.startswith("/v1/") or not operation.get("security"):
                continue
            responses = operation.setdefault("responses", {})
            responses["429"] = {
                "description": "Too many requests from this key, or too many failed "
                "authentications from this address; wait `Retry-After` seconds",
                "headers": {"Retry-After": RETRY_AFTER_HEADER},
                "content": {
                    PROBLEM_JSON: {"schema": problem_ref, "examples": dict(RATE_LIMITED_EXAMPLES)}
                },
            }
            for status, response in responses.items():
                if status != "401":
                    response.setdefault("headers", {}).update(RATE_LIMIT_HEADERS)
    return schema
