"""The errors the code raises: one base, so the caller always gets a stable ``code``."""

from __future__ import annotations

from typing import Any


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


class Forbidden(ApiError):
    """The key is known but lacks the scope the call needs (``required_scope``). About the
    key, never about a resource: answered before any id is looked up."""

    status, code, title = 403, "insufficient_scope", "Insufficient scope"

    def __init__(self, required_scope: str) -> None:
        super().__init__(
            f"This call needs an API key with the '{required_scope}' scope.",
            extra={"required_scope": required_scope},
        )


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


class IdempotencyKeyReused(ApiError):
    status, code, title = 422, "idempotency_key_reused", "Idempotency-Key reused"
