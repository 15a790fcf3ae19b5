"""Settings the accounting system (or its settings model) refused, told in the form that
sent them: the message in the reader's language and the field it is about, so the page
answers with the form again, the entered values kept, instead of an error page."""

from __future__ import annotations

from dataclasses import dataclass

from invoicesync_api.errors.exceptions import ConnectionFailed, InvalidSettings
from invoicesync_api.errors.handlers import connection_failed_detail
from invoicesync_api.i18n.catalog import render
from invoicesync_api.i18n.fields import field_message

# The form fields a connector's refusal code is about; the connector's text names the one
# it means when there are several (Exact's "no journal sales_journal '99'").
FIELDS_OF: dict[str, tuple[str, ...]] = {
    "journal_missing": ("sales_journal", "credit_note_journal", "purchase_journal"),
    "division_access_withdrawn": ("division",),
    "access_key_refused": ("access_key",),
    "administration_access_withdrawn": ("administration_id",),
    # Yuki's check of a key and administration typed in (connect, settings, relink).
    "invalid_access_key": ("access_key",),
    "administration_not_found": ("administration_id",),
}


@dataclass(frozen=True)
class Refusal:
    message: str
    field: str | None  # the form field's name; None: the settings as a whole


def refusal(
    language: str, exc: ConnectionFailed | InvalidSettings, shown: tuple[str, ...]
) -> Refusal:
    """``exc`` in the reader's words, naming one of the form's ``shown`` fields if any."""
    if isinstance(exc, InvalidSettings):
        first = exc.errors[0]
        name = str(first["loc"][0]) if first.get("loc") else None
        message = field_message(
            language, str(first["type"]), str(first["msg"]), first.get("ctx") or {}
        )
        field = name if name in shown else None
        if field is None:
            message = render(language, exc.template, exc.params)
        return Refusal(message, field)
    candidates = [f for f in FIELDS_OF.get(str(exc.extra.get("reason")), ()) if f in shown]
    named = [f for f in candidates if f in exc.reason]
    field = next(iter(named or candidates), None)
    return Refusal(connection_failed_detail(language, exc), field)
