"""Why a reconciliation's repair plan proposes each action (``repair_plan[].reason``), in
the reader's language.

The report is stored once, in English, with the reasons filled in; they are translated
when the report is answered, their parameters read back (``stored_texts``). What a reason
names from the comparison (the fields that differ, ``gross``, ``date``) stays as the
report names it.
"""

from __future__ import annotations

from typing import Any

from invoicesync_api.i18n.catalog import N_, gettext, render
from invoicesync_api.i18n.stored_texts import read_back

NUMBERS_MISSING = N_("Numbers {first} to {last} are missing in the accounting system.")
NUMBERS_DELETED = N_(
    "Numbers {first} to {last} were those of {documents}, whose entries are gone from the "
    "accounting system: apply sends them again under new numbers; these stay unused there."
)
DIFFERS = N_(
    "The entry differs from the document ({fields}); correct it in the accounting system, "
    "or correct the document and push it again."
)
SAYS = N_("The accounting system says {theirs}; read the payment statuses back.")
PAID, OPEN = N_("paid"), N_("open")
NEVER_LINKED = N_(
    "The entry carries the document's reference but was never linked to it; link it "
    "instead of sending the document again."
)
A_DOUBLE = N_("The document is linked to another entry already: one of them is a double.")
NOT_OURS = N_("The entry carries our reference, but no document of this period has it.")
NO_ENTRY = N_("The accounting system has no entry for the document; send it again.")
TYPED_BY_HAND = N_(
    "An entry typed by hand looks like the document (amount, date, customer); a person "
    "confirms, then it is linked instead of sending the document again."
)
DUPLICATE_NUMBER = N_(
    "Number {number} is on {count} documents; run the duplicate-number repair (POST "
    "/v1/integrations/{{id}}/repair) so each gets its own."
)
REASONS = (
    NUMBERS_MISSING,
    NUMBERS_DELETED,
    DIFFERS,
    SAYS,
    NEVER_LINKED,
    A_DOUBLE,
    NOT_OURS,
    NO_ENTRY,
    TYPED_BY_HAND,
    DUPLICATE_NUMBER,
)
# Words a reason is filled with, translated with it.
WORDS = frozenset({PAID, OPEN})


def reason(language: str, stored: str) -> str:
    """``stored`` (an English reason) in ``language``; another text as stored."""
    for template in REASONS:
        params = read_back(template, stored)
        if params is not None:
            words = {k: gettext(language, v) if v in WORDS else v for k, v in params.items()}
            return render(language, template, words)
    return stored


def actions(language: str, planned: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The plan's actions with their reasons in ``language``."""
    if language == "en":
        return planned
    return [
        {**a, "reason": reason(language, a["reason"])} if isinstance(a.get("reason"), str) else a
        for a in planned
    ]


def report(language: str, stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """The report with its repair plan's reasons (and those of what was applied) in
    ``language``."""
    if stored is None or language == "en":
        return stored
    plans = {k: stored[k] for k in ("repair_plan", "applied") if isinstance(stored.get(k), list)}
    return {**stored, **{k: actions(language, v) for k, v in plans.items()}}
