"""One error base and one handler: every error answers RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger()

PROBLEM_BASE = "https://invoicesync.dev/problems/"
PROBLEM_JSON = "application/problem+json"


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


class ConnectionFailed(ApiError):
    """The accounting system refused the connection settings."""

    status, code, title = 422, "connection_failed", "The accounting system refused the connection"


def problem(
    status: int, code: str, title: str, detail: str, instance: str, **extra: Any
) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": instance,
        **extra,
    }
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
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(
            422, "validation_failed", "Validation failed", detail, request.url.path, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        return problem(exc.status_code, code, str(exc.detail), str(exc.detail), request.url.path)

    @app.exception_handler(DBAPIError)
    async def unstorable(request: Request, exc: DBAPIError) -> JSONResponse:
        # Text PostgreSQL cannot store (a NUL in a query parameter, say) is the caller's.
        if getattr(exc.orig, "sqlstate", None) != "22021":  # character_not_in_repertoire
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


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this API is answered."""

    type: str = Field(examples=[PROBLEM_BASE + "not_found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["No such client."])
    code: str = Field(examples=["not_found"])
    instance: str = Field(examples=["/v1/clients/6a0f…"])
    errors: list[FieldProblem] | None = None


def _problem_response(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description, "content": {PROBLEM_JSON: {}}}


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_response("Malformed request (e.g. invalid JSON)"),
    401: _problem_response("Missing, unknown or revoked API key"),
    404: _problem_response("Not found (also for another partner's ids)"),
    409: _problem_response("Conflict (duplicate number, run already going, key in flight)"),
    413: _problem_response("Body too large"),
    422: _problem_response("Validation failed; every problem is listed in `errors`"),
}


def problem_media_types(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI files a response model under application/json; errors here are answered as
    application/problem+json, so the document says exactly that."""
    for operation in (op for path in schema.get("paths", {}).values() for op in path.values()):
        for status, response in operation.get("responses", {}).items():
            content = response.get("content", {})
            if status[0] in "45" and PROBLEM_JSON in content and "application/json" in content:
                content[PROBLEM_JSON] = content.pop("application/json")
    return schema
