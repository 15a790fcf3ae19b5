"""One handler per kind of failure, so every error leaves as a problem, never a stack trace."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from invoicesync_api.errors.exceptions import (
    ApiError,
    ConnectionFailed,
    FieldsUnprocessable,
    InvalidSettings,
    ValidationFailed,
    fields_detail,
    settings_field,
    validation_detail,
)
from invoicesync_api.errors.problem import problem
from invoicesync_api.i18n.catalog import N_, render
from invoicesync_api.i18n.fields import field_message
from invoicesync_api.i18n.middleware import language_of
from invoicesync_api.i18n.status_reasons import status_reason

log = structlog.get_logger()

# Deadlock, serialisation failure, lock not available: a transaction that lost a race with
# another one touching the same rows, rolled back whole. The caller's retry is the answer.
MET_ANOTHER_CHANGE = frozenset({"40P01", "40001", "55P03"})
MET_ANOTHER_CHANGE_DETAIL = N_(
    "The request met another change of the same data at the same moment; nothing was "
    "written. Try again."
)
# Every pooled connection stayed taken for the pool's whole wait: a load peak, not a fault.
POOL_EXHAUSTED_DETAIL = N_(
    "The service is too busy to answer this request now. Try again in a moment; a request "
    "sent again with the same Idempotency-Key is answered once."
)
# Starlette's details of the answers it gives itself (the status phrase), catalogued.
STARLETTE_DETAILS = (N_("Not Found"), N_("Method Not Allowed"))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _api_problem(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        language = language_of(request.scope)
        errors = [_field_error(language, e) for e in exc.errors()]
        if any(e["type"] == "json_invalid" for e in errors):
            return _problem(
                request,
                400,
                "invalid_json",
                N_("Invalid JSON"),
                N_("The request body is not valid JSON."),
            )
        return problem(
            ValidationFailed.status,
            ValidationFailed.code,
            render(language, ValidationFailed.title),
            validation_detail(errors),
            request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        # Starlette's detail is the status's English phrase ("Not Found"), catalogued.
        text = render(language_of(request.scope), str(exc.detail))
        return problem(exc.status_code, code, text, text, request.url.path)

    @app.exception_handler(DBAPIError)
    async def unstorable(request: Request, exc: DBAPIError) -> JSONResponse:
        sqlstate = getattr(exc.orig, "sqlstate", None)
        if sqlstate in MET_ANOTHER_CHANGE:
            log.warning("request met a concurrent change", path=request.url.path, sqlstate=sqlstate)
            response = _problem(request, 503, "busy", N_("Busy"), MET_ANOTHER_CHANGE_DETAIL)
            response.headers["Retry-After"] = "1"
            return response
        # Text PostgreSQL cannot store (a NUL in a query parameter, say) is the caller's.
        if sqlstate != "22021":  # character_not_in_repertoire
            return await unexpected(request, exc)
        return _problem(
            request,
            422,
            "unstorable_text",
            N_("Unstorable text"),
            N_("The request contains characters that cannot be stored (e.g. NUL)."),
        )

    app.add_exception_handler(PoolTimeout, _pool_exhausted)

    @app.exception_handler(IntegrityError)
    async def integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        # A unique constraint lost a race (two documents with one number at once).
        return _problem(
            request,
            409,
            "conflict",
            N_("Conflict"),
            N_(
                "The request conflicts with data stored meanwhile (e.g. the same document "
                "number); nothing was written."
            ),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return _problem(
            request,
            500,
            "internal_error",
            N_("Internal error"),
            N_("Something went wrong on our side; nothing was half-written. Try again."),
        )


def _problem(request: Request, status: int, code: str, title: str, detail: str) -> JSONResponse:
    """A problem whose title and detail (catalogue texts) are in the request's language."""
    language = language_of(request.scope)
    return problem(
        status, code, render(language, title), render(language, detail), request.url.path
    )


def _api_problem(request: Request, exc: ApiError) -> JSONResponse:
    """The error in the request's language; its ``code`` (and ``type``) never change."""
    language = language_of(request.scope)
    extra = exc.extra
    detail = render(language, exc.template, exc.params)
    if isinstance(exc, ValidationFailed):
        # The same entries as in English (``type`` always there), messages translated.
        errors = [
            {**_translated(language, e), "type": str(e.get("type", ""))} for e in exc.field_errors
        ]
        extra, detail = {**extra, "errors": errors}, validation_detail(errors)
    elif isinstance(exc, FieldsUnprocessable):
        errors = [_translated(language, e) for e in exc.field_errors]
        extra, detail = {**extra, "errors": errors}, fields_detail(errors)
    elif isinstance(extra.get("errors"), list):
        extra = {**extra, "errors": [_translated(language, e) for e in extra["errors"]]}
    elif isinstance(exc, InvalidSettings):
        fields = "; ".join(
            f"{settings_field(e)}: "
            + field_message(language, str(e["type"]), str(e["msg"]), e.get("ctx") or {})
            for e in exc.errors
        )
        detail = render(language, exc.template, {"system": exc.system, "fields": fields})
    elif isinstance(exc, ConnectionFailed):
        detail = connection_failed_detail(language, exc)
    title = render(language, exc.title)
    return problem(exc.status, exc.code, title, detail, request.url.path, **extra)


def connection_failed_detail(language: str, exc: ConnectionFailed) -> str:
    """Why the accounting system refused, in ``language`` (by the connector's code)."""
    reason = status_reason(
        language,
        exc.extra.get("reason"),
        exc.reason,
        system=exc.system or "",
        params=exc.reason_params,
    )
    reason = reason or exc.reason
    return render(language, exc.around, {"reason": reason}) if exc.around else reason


def _field_error(language: str, error: Any) -> dict[str, str]:
    location = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
    error_type = str(error.get("type", ""))
    message = str(error.get("msg", "invalid"))
    return {
        "field": ".".join(location) or "body",
        "message": field_message(language, error_type, message, error.get("ctx") or {}),
        "type": error_type,
    }


def _translated(language: str, error: dict[str, Any]) -> dict[str, Any]:
    """A field refused by our own rules: its template translated (``params`` filled in,
    not shown)."""
    fields = {k: v for k, v in error.items() if k != "params"}
    return {**fields, "message": render(language, str(error["message"]), error.get("params"))}


async def _pool_exhausted(request: Request, exc: Exception) -> JSONResponse:
    log.warning("no database connection free in time", path=request.url.path)
    response = _problem(request, 503, "busy", N_("Busy"), POOL_EXHAUSTED_DETAIL)
    response.headers["Retry-After"] = "1"
    return response
