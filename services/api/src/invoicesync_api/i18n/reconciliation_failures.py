"""Why a reconciliation failed (``failure.message``), in the reader's language.

What is stored is the failure's stable ``code`` and its English text (the connector writes
it, or the API); the text is translated when answered. A code's parameters are read back
from the stored text with the code's English template, so a text that does not match it
(a connector's own wording, an older one) is answered as stored, never half-filled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from string import Formatter
from typing import Any

from invoicesync_api.i18n.catalog import N_, render
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


@cache
def _pattern(template: str) -> re.Pattern[str]:
    parts = []
    for literal, name, _, _ in Formatter().parse(template):
        parts.append(re.escape(literal))
        if name is not None:
            parts.append(f"(?P<{name}>.+?)")
    return re.compile("".join(parts), re.DOTALL)


def failure_message(language: str, code: str, stored: str, *, system: str = "") -> str:
    """``stored`` (the English text of ``code``) in ``language``; a connector's refusal
    (``PermanentError``, a lost authorisation) by its sync error's text."""
    template = FAILURES.get(code)
    if template is None:
        return sync_error_message(language, code, stored, system=system) or stored
    found = _pattern(template).fullmatch(stored)
    if found is None:
        return stored
    return render(language, template, found.groupdict())
