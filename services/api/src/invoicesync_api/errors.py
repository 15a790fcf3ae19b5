"""One error base and one handler: every error answers RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.models import Example
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from invoicesync_api.examples import story
from invoicesync_api.examples.media import named

log = structlog.get_logger()

PROBLEM_BASE = "https://invoicesync.dev/problems/"
PROBLEM_JSON = "application/problem+json"
# Deadlock, serialisation failure, lock not available: a transaction that lost a race with
# another one touching the same rows, rolled back whole. The caller's retry is the answer.
MET_ANOTHER_CHANGE = frozenset({"40P01", "40001", "55P03"})


class ApiError(Exception):
    """An error the caller can act on; ``code`` is stable, ``detail`` is for people."""

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}


class NotFound(ApiError):
    status, code, title = 404, "not_found", "Not found"


class Unauthorized(ApiError):
    status, code, title = 401, "unauthorized", "Unauthorized"


class Conflict(ApiError):
    status, code, title = 409, "conflict", "Conflict"


class Unprocessable(ApiError):
    status, code, title = 422, "unprocessable", "Unprocessable content"


class ValidationFailed(ApiError):
    """Fields refused after the body parsed (rules that need the clock or settings): the
    same answer as a request validation error, every field listed in ``errors``."""

    status, code, title = 422, "validation_failed", "Validation failed"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(validation_detail(errors), extra={"errors": errors})


def validation_detail(errors: list[dict[str, str]]) -> str:
    return "; ".join(f"{e['field']}: {e['message']}" for e in errors)


class Unavailable(ApiError):
    """A part of invoicesync the request needs (a connector) does not answer just now."""

    status, code, title = 503, "unavailable", "Unavailable"


class ConnectionFailed(ApiError):
    """The accounting system refused the connection settings."""

    status, code, title = 422, "connection_failed", "The accounting system refused the connection"


def problem_body(
    status: int, code: str, title: str, detail: str, instance: str, **extra: Any
) -> dict[str, Any]:
    return {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": instance,
        **extra,
    }


def problem(
    status: int, code: str, title: str, detail: str, instance: str, **extra: Any
) -> JSONResponse:
    body = problem_body(status, code, title, detail, instance, **extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return problem(exc.status, exc.code, exc.title, exc.detail, request.url.path, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_field_error(e) for e in exc.errors()]
        if any(e["type"] == "json_invalid" for e in errors):
            return problem(
                400,
                "invalid_json",
                "Invalid JSON",
                "The request body is not valid JSON.",
                request.url.path,
            )
        failed = ValidationFailed(errors)
        return problem(
            failed.status,
            failed.code,
            failed.title,
            failed.detail,
            request.url.path,
            **failed.extra,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        return problem(exc.status_code, code, str(exc.detail), str(exc.detail), request.url.path)

    @app.exception_handler(DBAPIError)
    async def unstorable(request: Request, exc: DBAPIError) -> JSONResponse:
        sqlstate = getattr(exc.orig, "sqlstate", None)
        if sqlstate in MET_ANOTHER_CHANGE:
            log.warning("request met a concurrent change", path=request.url.path, sqlstate=sqlstate)
            response = problem(
                503,
                "busy",
                "Busy",
                "The request met another change of the same data at the same moment; nothing "
                "was written. Try again.",
                request.url.path,
            )
            response.headers["Retry-After"] = "1"
            return response
        # Text PostgreSQL cannot store (a NUL in a query parameter, say) is the caller's.
        if sqlstate != "22021":  # character_not_in_repertoire
            return await unexpected(request, exc)
        return problem(
            422,
            "unstorable_text",
            "Unstorable text",
            "The request contains characters that cannot be stored (e.g. NUL).",
            request.url.path,
        )

    @app.exception_handler(IntegrityError)
    async def integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        # A unique constraint lost a race (two documents with one number at once).
        return problem(
            409,
            "conflict",
            "Conflict",
            "The request conflicts with data stored meanwhile (e.g. the same document number); "
            "nothing was written.",
            request.url.path,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return problem(
            500,
            "internal_error",
            "Internal error",
            "Something went wrong on our side; nothing was half-written. Try again.",
            request.url.path,
        )


def _field_error(error: Any) -> dict[str, str]:
    location = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
    return {
        "field": ".".join(location) or "body",
        "message": str(error.get("msg", "invalid")),
        "type": str(error.get("type", "")),
    }


class IdempotencyKeyReused(ApiError):
    status, code, title = 422, "idempotency_key_reused", "Idempotency-Key reused"


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


def problem_media_types(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI files a response model under application/json; errors here are answered as
    application/problem+json, so the document says exactly that (examples kept)."""
    for operation in (op for path in schema.get("paths", {}).values() for op in path.values()):
        for status, response in operation.get("responses", {}).items():
            content = response.get("content", {})
            if status[0] in "45" and PROBLEM_JSON in content and "application/json" in content:
                content[PROBLEM_JSON] = {**content.pop("application/json"), **content[PROBLEM_JSON]}
    return schema


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
