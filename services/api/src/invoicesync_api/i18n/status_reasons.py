"""An integration's status reason in the reader's language, by its stable code.

Connectors send a code (``AuthorizationLost.reason``, a verdict's ``code``) with an
English text and the parameters the text names (a division, the system's own words); the
API stores all three and writes the reason again when it is read. English readers get the
stored text as it was written (the most precise); a code the catalogue does not know, or
parameters missing for its text, fall back to the stored text too. Codes never change.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter
from typing import Any

from invoicesync_api.i18n.catalog import N_, render
from invoicesync_api.i18n.sync_errors import (
    CONNECTION_REASONS,
    SYNC_ERRORS,
    SYSTEM_NAMES,
    sync_error_message,
)
from invoicesync_shared.db.models import Integration
from invoicesync_shared.states import IntegrationStatus

STATUS_REASONS = {
    # The connectors' refusals of the grant (``AuthorizationLost.reason``).
    "refresh_refused": N_(
        "{system} refused the stored authorisation ({said}). Connect the integration again; "
        "its documents wait until then."
    ),
    "client_refused": N_(
        "{system} refused invoicesync's app credentials ({said}). Check the app's client ID "
        "and secret; the documents wait until then."
    ),
    "authorization_refused": N_(
        "{system} no longer accepts the authorisation. Connect the integration again; its "
        "documents wait until then."
    ),
    "division_access_withdrawn": N_(
        "The {system} user who connected this integration no longer has access to division "
        "{division} ({system} said: {said}). Give that user access to the company again, or "
        "use a user who has it; then connect the integration again."
    ),
    "access_key_refused": N_(
        "{system} refused the stored access key ({system} said: {said}). Create a new access "
        "key in {system} and store it in the integration's settings."
    ),
    "administration_access_withdrawn": N_(
        "The {system} access key no longer has access to administration {administration} "
        "({system} said: {said}). Give the key's user access to it again and verify the "
        "integration, or store the access key of a user who has access."
    ),
    # Yuki's check of a key and administration typed in (on connect, a settings change or
    # relink): said as what to enter, not as a document waiting (the sync error's text).
    "invalid_access_key": N_(
        "{system} did not accept the access key. Create a new one in {system} under "
        "Settings → Web services and enter it here."
    ),
    "administration_not_found": N_(
        "The {system} access key cannot reach this administration. Check the administration "
        "ID, or enter the access key of a user who has access to it."
    ),
    # Decided by the API itself.
    "connection_revoked": N_(
        "The connection was revoked in {system}. Connect the integration again; its "
        "documents wait until then."
    ),
    "other_organisation": N_(
        "This grant is for the {system} organisation {name} ({granted}), but the integration "
        "books into organisation {booked}: nothing was sent there. Connect again and choose "
        "organisation {booked}, or connect {name} as an integration of the client it "
        "belongs to."
    ),
    "access_not_granted": N_("Access was not granted ({error})."),
    "deactivated": N_("Deactivated from {from_date}."),
    "verification_unavailable": N_(
        "The {system} connector could not be reached to check the connection; verify the "
        "integration again later."
    ),
    "unavailable": N_(
        "{system} could not be reached to check the connection; verify the integration again later."
    ),
    "verification_failed": N_(
        "The {system} connector could not check the connection; verify the integration again later."
    ),
}
# Sync errors whose text fits a connection check as well (the others are about one
# document; a paused integration's reason is one, so all of them fit there).
CONNECTION_CODES = CONNECTION_REASONS | {"journal_missing", "invalid_access_key"}


def status_reason(
    language: str,
    code: str | None,
    stored: str | None,
    *,
    system: str,
    params: Mapping[str, Any] | None = None,
    document_error: bool = False,
) -> str | None:
    """The reason in ``language``; ``stored`` (English) for English readers, unknown codes
    and parameters the text needs but the connector did not send. ``document_error``: the
    code is a refused document's (the failure brake's pause)."""
    template = None if document_error else STATUS_REASONS.get(code or "")
    if template is None:
        if code in (SYNC_ERRORS if document_error else CONNECTION_CODES):
            return sync_error_message(language, code, stored, system=system)
        return stored
    values = {**(params or {}), "system": SYSTEM_NAMES.get(system, system)}
    if (language == "en" and stored) or not _names(template) <= values.keys():
        return stored
    return render(language, template, values)


def reason_in(language: str, integration: Integration) -> str | None:
    """The integration's status reason in ``language`` (by its code; as stored else)."""
    return status_reason(
        language,
        integration.status_reason_code,
        integration.status_reason,
        system=integration.system,
        params=integration.status_reason_params,
        document_error=integration.status == IntegrationStatus.PAUSED,
    )


def english(code: str, *, system: str, params: Mapping[str, Any] | None = None) -> str:
    """The text stored with a reason the API decides itself."""
    reason = status_reason("en", code, None, system=system, params=params)
    assert reason is not None, code
    return reason


def _names(template: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(template) if name}
