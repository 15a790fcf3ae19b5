"""Why a reconciliation failed (``failure.message``), in the reader's language.

What is stored is the failure's stable ``code`` and its English text (the connector writes
it, or the API); the text is translated when answered, its parameters read back with the
code's English template (``stored_texts``): a text that does not match it (a connector's
own wording, an older one) is answered as stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from invoicesync_api.i18n.catalog import N_, render
from invoicesync_api.i18n.stored_texts import translated
from invoicesync_api.i18n.sync_errors import sync_error_message

# The connector runtime's texts (invoicesync_shared.connectors.reconciliation) and the
# API's own, word for word as they are stored; any other code is a connector's refusal.
FAILURES = {
    "integration_inactive": N_("The integration is not active; connect it again, then reconcile."),
    "not_supported": N_("Reconciliation is not available for {system} yet."),
    "unavailable": N_("{system} could not be read ({error}); try again later."),
    "no_answer": N_("No answer came from the connector; this reconciliation was given up."),
    "entries_lost": N_("Only {arrived} of the {read} entries read arrived; reconcile again."),
}


def english(code: str, params: Mapping[str, Any] | None = None) -> str:
    """The English text stored for ``code`` (the API's own failures)."""
    return render("en", FAILURES[code], params)


def failure_message(language: str, code: str, stored: str, *, system: str = "") -> str:
    """``stored`` (the English text of ``code``) in ``language``; a connector's refusal
    (``PermanentError``, a lost authorisation) by its sync error's text."""
    template = FAILURES.get(code)
    if template is None:
        return sync_error_message(language, code, stored, system=system) or stored
    return translated(language, (template,), stored)
