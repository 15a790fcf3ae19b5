"""One handler per kind of failure, so every error leaves as a problem, never a stack trace."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from invoicesync_api.errors.exceptions import ApiError, ValidationFailed
from invoicesync_api.errors.problem import problem

log = structlog.get_logger()

# Deadlock, serialisation failure, lock not available: a transaction that lost a race with
# another one touching the same rows, rolled back whole. The caller's retry is the answer.
MET_ANOTHER_CHANGE = frozenset({"40P01", "40001", "55P03"})


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
