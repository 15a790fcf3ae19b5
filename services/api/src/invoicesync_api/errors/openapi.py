"""How errors appear in the OpenAPI document: the problem schema, one typical answer per
status for every operation, and the extra answers of the routes that can give them."""

from __future__ import annotations

from typing import Any, Literal

from fastapi.openapi.models import Example
from pydantic import BaseModel, ConfigDict, Field

from invoicesync_api.errors.exceptions import validation_detail
from invoicesync_api.errors.problem import PROBLEM_BASE, PROBLEM_JSON, problem_body
from invoicesync_api.examples import story
from invoicesync_api.examples.media import named


class FieldProblem(BaseModel):
    field: str
    message: str
    type: str


VALIDATION_ERRORS = [
    {
        "field": "currency",
        "message": "String should match pattern '^[A-Z]{3}$'",
        "type": "string_pattern_mismatch",
    },
    {"field": "customer.name", "message": "Field required", "type": "missing"},
    {
        "field": "lines.0.unit_price",
        "message": 'Value error, amounts are decimal strings such as "12.50", never JSON numbers',
        "type": "value_error",
    },
]
VALIDATION_PROBLEM = problem_body(
    422,
    "validation_failed",
    "Validation failed",
    validation_detail(VALIDATION_ERRORS),
    "/v1/invoices",
    errors=VALIDATION_ERRORS,
)


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this API is answered."""

    model_config = ConfigDict(json_schema_extra={"examples": [VALIDATION_PROBLEM]})

    type: str = Field(examples=[PROBLEM_BASE + "not_found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["No such client."])
    code: str = Field(examples=["not_found"])
    instance: str = Field(examples=["/v1/clients/6a0f…"])
    errors: list[FieldProblem] | None = None
    required_scope: Literal["read", "write", "admin"] | None = Field(
        default=None, description="On 403 `insufficient_scope`: the scope the call needs."
    )
    retry_after: int | None = Field(
        default=None, description="On a 429: seconds until a request fits again (as Retry-After)."
    )


def _problem_response(description: str, examples: dict[str, Example]) -> dict[str, Any]:
    return {
        "model": Problem,
        "description": description,
        "content": {PROBLEM_JSON: {"examples": examples}},
    }


# One typical answer per status, shown for every operation.
PROBLEM_EXAMPLES: dict[int, dict[str, Example]] = {
    400: {
        "invalid_json": named(
            "The body is not JSON",
            problem_body(
                400,
                "invalid_json",
                "Invalid JSON",
                "The request body is not valid JSON.",
                "/v1/invoices",
            ),
        )
    },
    401: {
        "unauthorized": named(
            "Unknown or revoked API key",
            problem_body(
                401,
                "unauthorized",
                "Unauthorized",
                "The API key is unknown or revoked.",
                "/v1/invoices",
            ),
        )
    },
    404: {
        "not_found": named(
            "Missing, or another partner's",
            problem_body(
                404,
                "not_found",
                "Not found",
                "No such invoice.",
                f"/v1/invoices/{story.INVOICE_ID}",
            ),
        )
    },
    409: {
        "run_already_going": named(
            "A sync run is already going",
            problem_body(
                409,
                "conflict",
                "Conflict",
                "A sync run is already going for this integration.",
                "/v1/sync-runs",
                sync_run_id=story.SYNC_RUN_ID,
            ),
        ),
        "idempotency_key_in_flight": named(
            "The first request with this Idempotency-Key is still running",
            problem_body(
                409,
                "conflict",
                "Conflict",
                "A request with this Idempotency-Key is still in progress.",
                "/v1/invoices",
            ),
        ),
    },
    413: {
        "payload_too_large": named(
            "Body over the limit",
            problem_body(
                413,
                "payload_too_large",
                "Payload too large",
                "The body is larger than 1000000 bytes.",
                "/v1/invoices",
            ),
        )
    },
    422: {"validation_failed": named("Every invalid field at once", VALIDATION_PROBLEM)},
}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_response("Malformed request (e.g. invalid JSON)", PROBLEM_EXAMPLES[400]),
    401: _problem_response("Missing, unknown or revoked API key", PROBLEM_EXAMPLES[401]),
    404: _problem_response("Not found (also for another partner's ids)", PROBLEM_EXAMPLES[404]),
    409: _problem_response(
        "Conflict (duplicate number, run already going, key in flight)", PROBLEM_EXAMPLES[409]
    ),
    413: _problem_response("Body too large", PROBLEM_EXAMPLES[413]),
    422: _problem_response(
        "Validation failed; every problem is listed in `errors`", PROBLEM_EXAMPLES[422]
    ),
}
# For the routes that check a connection with the accounting system (connect, relink).
CONNECTION_PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: _problem_response(
        "Validation failed, or the accounting system refused the connection (`reason`)",
        {
            **PROBLEM_EXAMPLES[422],
            "connection_failed": named(
                "Yuki refused the connection settings",
                problem_body(
                    422,
                    "connection_failed",
                    "The accounting system refused the connection",
                    f"The Yuki access key has no administration "
                    f"'{story.YUKI_ADMINISTRATION_ID}'; it can reach: "
                    "'Bakkerij De Vries B.V. (oud)' (5b3e0f7a-2c9d-4e81-b6a4-9f1d7c2e8a30).",
                    f"/v1/clients/{story.CLIENT_ID}/integrations",
                    reason="administration_not_found",
                ),
            ),
        },
    )
}


# For the routes that ask a connector to act now (read back from the accounting system).
CONNECTOR_PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: _problem_response(
        "The system's connector did not answer; try again shortly",
        {
            "connector_down": named(
                "The Exact connector is restarting",
                problem_body(
                    503,
                    "unavailable",
                    "Unavailable",
                    "The exact connector could not be reached; try again shortly.",
                    f"/v1/integrations/{story.EXACT_ID}/refresh",
                ),
            )
        },
    )
}


def forbidden_response(scope: str, path: str) -> dict[str, Any]:
    """The 403 of an operation that needs ``scope``, with its own example, as served."""
    example = named(
        f"The key lacks the '{scope}' scope",
        problem_body(
            403,
            "insufficient_scope",
            "Insufficient scope",
            f"This call needs an API key with the '{scope}' scope.",
            path,
            required_scope=scope,
        ),
    )
    return {
        "description": f"The API key lacks the `{scope}` scope (`required_scope` names it); "
        "answered before any id is looked up",
        "content": {
            PROBLEM_JSON: {
                "schema": {"$ref": "#/components/schemas/Problem"},
                "examples": {"insufficient_scope": example},
            }
        },
    }


def problem_media_types(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI files a response model under application/json; errors here are answered as
    application/problem+json, so the document says exactly that (examples kept)."""
    for operation in (op for path in schema.get("paths", {}).values() for op in path.values()):
        for status, response in operation.get("responses", {}).items():
            content = response.get("content", {})
            if status[0] in "45" and PROBLEM_JSON in content and "application/json" in content:
                content[PROBLEM_JSON] = {**content.pop("application/json"), **content[PROBLEM_JSON]}
    return schema
