"""The errors the code raises: one base, so the caller always gets a stable ``code``.

``title`` and ``detail`` are English templates of the catalogue (``i18n``), translated
when the answer is written; ``params`` fill the detail's ``{placeholders}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from invoicesync_api.i18n.catalog import N_


class ApiError(Exception):
    """An error the caller can act on; ``code`` is stable, ``detail`` is for people."""

    status = 400
    code = "bad_request"
    title = N_("Bad request")

    def __init__(
        self,
        detail: str,
        *,
        params: Mapping[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.template, self.params = detail, dict(params or {})
        self.detail = detail.format(**self.params) if self.params else detail
        super().__init__(self.detail)
        self.extra = extra or {}


class NotFound(ApiError):
    status, code, title = 404, "not_found", N_("Not found")


class Unauthorized(ApiError):
    status, code, title = 401, "unauthorized", N_("Unauthorized")


class Forbidden(ApiError):
    """The key is known but lacks the scope the call needs (``required_scope``). About the
    key, never about a resource: answered before any id is looked up."""

    status, code, title = 403, "insufficient_scope", N_("Insufficient scope")

    def __init__(self, required_scope: str) -> None:
        super().__init__(
            N_("This call needs an API key with the '{scope}' scope."),
            params={"scope": required_scope},
            extra={"required_scope": required_scope},
        )


class Conflict(ApiError):
    status, code, title = 409, "conflict", N_("Conflict")


class Unprocessable(ApiError):
    status, code, title = 422, "unprocessable", N_("Unprocessable content")


class InvalidSettings(Unprocessable):
    """An integration's settings refused by its system's model; the fields' messages are
    pydantic's, written in the reader's language when answered (the code stays
    ``unprocessable``)."""

    TEMPLATE = N_("Invalid {system} settings: {fields}")

    def __init__(self, system: str, errors: list[Any]) -> None:
        self.system, self.errors = system, errors
        fields = "; ".join(f"{settings_field(e)}: {e['msg']}" for e in errors)
        super().__init__(self.TEMPLATE, params={"system": system, "fields": fields})


def settings_field(error: Mapping[str, Any]) -> str:
    return "settings." + ".".join(str(p) for p in error["loc"])


class ValidationFailed(ApiError):
    """Fields refused after the body parsed (rules that need the clock or settings): the
    same answer as a request validation error, every field listed in ``errors``."""

    status, code, title = 422, "validation_failed", N_("Validation failed")

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        """Each error: ``field``, ``message`` (a template), ``type`` and optionally the
        template's ``params``."""
        self.field_errors = errors
        english = [english_field_error(e) for e in errors]
        super().__init__(validation_detail(english), extra={"errors": english})


class FieldsUnprocessable(Unprocessable):
    """A 422 ``unprocessable`` made of its fields' refusals (``errors``), the detail
    listing each as ``field message``; each message a template with its ``params``,
    written in the reader's language when answered."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.field_errors = errors
        english = [english_field_error(e) for e in errors]
        super().__init__(fields_detail(english), extra={"errors": english})


def fields_detail(errors: list[dict[str, str]]) -> str:
    return "; ".join(f"{e['field']} {e['message']}" for e in errors)


def english_field_error(error: Mapping[str, Any]) -> dict[str, str]:
    params = error.get("params")
    message = str(error["message"])
    return {
        "field": str(error["field"]),
        "message": message.format(**params) if params else message,
        "type": str(error.get("type", "")),
    }


def validation_detail(errors: list[dict[str, str]]) -> str:
    return "; ".join(f"{e['field']}: {e['message']}" for e in errors)


class Unavailable(ApiError):
    """A part of invoicesync the request needs (a connector) does not answer just now."""

    status, code, title = 503, "unavailable", N_("Unavailable")


class ConnectionFailed(ApiError):
    """The accounting system refused the connection settings; ``reason`` (in ``extra``)
    is the connector's code, by which the detail is translated (``system`` names it)."""

    status, code, title = (
        422,
        "connection_failed",
        N_("The accounting system refused the connection"),
    )

    def __init__(
        self,
        detail: str,
        *,
        system: str | None = None,
        reason_params: Mapping[str, Any] | None = None,
        around: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """``detail``: the connector's English text; ``reason_params``: what its code's
        text names; ``around``: a catalogue template that puts it (``{reason}``) in words
        of the call."""
        self.reason, self.reason_params, self.around = detail, reason_params, around
        super().__init__(
            around or detail, params={"reason": detail} if around else None, extra=extra
        )
        self.system = system


class IdempotencyKeyReused(ApiError):
    status, code, title = 422, "idempotency_key_reused", N_("Idempotency-Key reused")
