"""Why a webhook endpoint was disabled (``disabled_reason``), in the reader's language.

The reason is stored in English as written; it is translated when answered (the endpoint,
the notification that tells of it) by reading its parameters back (``stored_texts``).
"""

from __future__ import annotations

from invoicesync_api.i18n.catalog import N_
from invoicesync_api.i18n.stored_texts import translated

BY_PARTNER = N_("Disabled by the partner.")
FAILED_DELIVERIES = N_("{count} deliveries in a row failed after all their attempts.")
FAILING_HOURS = N_("every attempt failed for more than {hours} hours.")
REASONS = (BY_PARTNER, FAILED_DELIVERIES, FAILING_HOURS)


def disabled_reason(language: str, stored: str | None) -> str | None:
    """``stored`` (an English reason) in ``language``; another text as stored."""
    return None if stored is None else translated(language, REASONS, stored)
