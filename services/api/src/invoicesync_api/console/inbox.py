"""The inbox: what needs a person across all the partner's clients, grouped by cause
(and accounting system: the fix is done there).

A cause is the stable error code the API stores (a failed send's ``error_code``, a
paused integration's failure-brake code, ``needs_reauthorization``); its fix is the
i18n sync-error text for that code, so the inbox, the documents page and the API's
answers say the same thing in the same words."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from invoicesync_api.db.models import Document, DocumentSync
from invoicesync_api.i18n.catalog import render
from invoicesync_api.i18n.sync_errors import SYNC_ERRORS, SYSTEM_NAMES
from invoicesync_shared.db.models import Integration
from invoicesync_shared.states import IntegrationStatus


@dataclass
class Problem:
    """One cause: how many sends it holds up, some of them, the integrations it stops."""

    code: str
    system: str
    fix: str
    failed: int = 0
    documents: list[dict[str, Any]] = field(default_factory=list)
    integrations: list[dict[str, Any]] = field(default_factory=list)
    # The integrations whose duplicate booking numbers the one-call repair mends.
    repair: list[dict[str, Any]] = field(default_factory=list)


# The causes the duplicate-number repair is for (``sync.duplicates`` flags them).
REPAIRABLE = frozenset({"duplicate_booking_number", "remote_entry_missing"})
Link = Callable[[Integration, DocumentSync], str | None]


def integration_cause(integration: Integration) -> str:
    """Why an integration needs a person, as a sync-error code."""
    if integration.status == IntegrationStatus.NEEDS_REAUTHORIZATION:
        return "needs_reauthorization"
    if integration.status == IntegrationStatus.PAUSED:
        return integration.failure_streak_code or integration.status_reason_code or "paused"
    return integration.status_reason_code or "internal_error"


def fix(
    language: str,
    code: str,
    said: str | None,
    *,
    system: str,
    number: str | None = None,
    booking_number: str | None = None,
) -> str:
    """The cause's fix in the reader's language; what was said when the code is unknown."""
    template = SYNC_ERRORS.get(code)
    if template is None:
        return said or code
    params = {
        "system": SYSTEM_NAMES.get(system, system),
        "number": number or "?",
        "booking_number": booking_number or "?",
        "said": said or "",
    }
    return render(language, template, params)


def group(
    language: str,
    counts: dict[tuple[str, str], int],
    failures: dict[tuple[str, str], list[tuple[DocumentSync, Document, Integration, str]]],
    attention: list[tuple[Integration, str]],
    link: Link = lambda integration, state: None,
) -> list[Problem]:
    """Causes with the most held-up documents first; integrations join their cause.
    Each document carries its entry's address in the accounting system (``link``); a
    duplicate-number cause names the integrations to repair."""
    problems: dict[tuple[str, str], Problem] = {}
    for (code, system), rows in failures.items():
        if not rows:
            continue
        state, document, integration, _ = rows[0]
        problems[code, system] = Problem(
            code,
            system,
            fix(
                language,
                code,
                state.error_message,
                system=integration.system,
                number=document.number,
                booking_number=state.booking_number,
            ),
            failed=counts.get((code, system), 0),
            documents=[
                {
                    "state": s,
                    "document": d,
                    "integration": i,
                    "client": name,
                    "url": link(i, s),
                }
                for s, d, i, name in rows
            ],
        )
        if code in REPAIRABLE:
            repair = {i.id: {"integration": i, "client": name} for _, _, i, name in rows}
            problems[code, system].repair = list(repair.values())
    for integration, client in attention:
        key = integration_cause(integration), integration.system
        if key not in problems:
            said = fix(language, key[0], integration.status_reason, system=key[1])
            problems[key] = Problem(*key, said)
        problems[key].integrations.append({"integration": integration, "client": client})
    return sorted(
        problems.values(), key=lambda p: (-p.failed, -len(p.integrations), p.code, p.system)
    )
