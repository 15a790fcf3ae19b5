"""Exact's error shapes: the OData body ``{"error":{"code","message":{"lang","value"}}}``
for the REST API and the OAuth ``{"error","error_description"}`` body for the token endpoint.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse


class ExactError(Exception):
    """A REST API failure, answered with the OData error body."""

    def __init__(self, status: int, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason

    def response(self) -> JSONResponse:
        headers = {"Reason": self.reason} if self.reason else None
        return JSONResponse(error_body(self.message), status_code=self.status, headers=headers)


class OAuthError(Exception):
    """A token endpoint failure, answered with the OAuth error body."""

    def __init__(
        self, status: int, error: str, description: str, reason: str | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.reason = reason

    def response(self) -> JSONResponse:
        headers = {"Reason": self.reason} if self.reason else None
        body = {"error": self.error, "error_description": self.description}
        return JSONResponse(body, status_code=self.status, headers=headers)


def error_body(message: str) -> dict[str, object]:
    return {"error": {"code": "", "message": {"lang": "", "value": message}}}


def bad_request(message: str) -> ExactError:
    return ExactError(400, message)


def not_found(message: str = "Resource not found") -> ExactError:
    return ExactError(404, message)


def unauthorized() -> ExactError:
    return ExactError(401, "This request requires a valid access token.")


def no_division_access(division: object) -> ExactError:
    """A division the user has no access to (never had, or withdrawn with
    ``POST /_sandbox/exact/divisions/{division}/access {"granted": false}``), on every API
    call of that division. Exact documents the 403 and its ``Reason: NoDivisionAccess``
    header ("the user does not have access to the requested division"); the body's
    wording is not documented, so a client must go by status and header, never the text.
    """
    return ExactError(403, f"Forbidden: no access to division {division}", "NoDivisionAccess")
