"""Lexware Office error bodies: the regular shape with ``details[]`` and the legacy IssueList.

Every failure inside the emulator raises :class:`LexwareError`; :class:`LexwareRoute` turns it
(and FastAPI's own request validation errors) into the body the real API sends.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

LEGACY_STATUSES = {400, 406, 500}


@dataclass
class Violation:
    """One entry of ``details[]``: which rule (``violation``) failed on which ``field``."""

    field: str
    violation: str
    message: str


@dataclass
class LexwareError(Exception):
    """An API failure with its HTTP status, message and field violations."""

    status: int
    message: str
    details: list[Violation] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


def validation_error(details: list[Violation], status: int = 406) -> LexwareError:
    return LexwareError(status, "Validation failed for request.", details)


def bad_request(message: str, details: list[Violation] | None = None) -> LexwareError:
    return LexwareError(400, message, details or [])


def not_found(what: str) -> LexwareError:
    return LexwareError(404, f"Requested {what} does not exist.")


def _utc_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def regular_body(request: Request, error: LexwareError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "timestamp": _utc_iso(),
        "status": error.status,
        "error": HTTPStatus(error.status).phrase,
        "path": request.url.path.removeprefix("/lexware"),
        "traceId": uuid.uuid4().hex[:16],
        "message": error.message,
    }
    if error.details:
        body["details"] = [vars(d) for d in error.details]
    return body


def legacy_body(error: LexwareError) -> dict[str, Any]:
    issues = [
        {
            "i18nKey": f"{d.violation}",
            "source": d.field,
            "type": "validation_failure" if error.status == 406 else "technical_error",
            "additionalData": None,
            "args": None,
        }
        for d in error.details
    ] or [{"i18nKey": error.message, "source": None, "type": "technical_error"}]
    return {"IssueList": issues}


def render(request: Request, error: LexwareError) -> JSONResponse:
    """The body for ``error``; the legacy IssueList if the organisation switched it on."""
    legacy = getattr(request.state, "legacy_errors", False) and error.status in LEGACY_STATUSES
    body = legacy_body(error) if legacy else regular_body(request, error)
    return JSONResponse(body, status_code=error.status, headers=error.headers)


def _from_request_validation(exc: RequestValidationError) -> LexwareError:
    details = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body")]
        details.append(Violation(".".join(loc), "invalid_value", str(err.get("msg", ""))))
    return bad_request("Malformed syntax or a bad query.", details)


def _require_body_type(request: Request, body_type: str) -> None:
    if request.method in ("POST", "PUT"):
        content_type = request.headers.get("content-type", "")
        if not content_type.lower().startswith(body_type):
            raise LexwareError(415, f"Content-Type must be {body_type}.")


class LexwareRoute(APIRoute):
    """Routes whose ``LexwareError``s (also from dependencies) become Lexware error bodies."""

    body_type = "application/json"

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def wrapped(request: Request) -> Response:
            try:
                _require_body_type(request, self.body_type)
                return await handler(request)
            except LexwareError as error:
                return render(request, error)
            except RequestValidationError as exc:
                return render(request, _from_request_validation(exc))

        return wrapped


class LexwareUploadRoute(LexwareRoute):
    """A file upload: the body is ``multipart/form-data`` instead of JSON."""

    body_type = "multipart/form-data"
