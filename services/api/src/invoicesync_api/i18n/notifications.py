"""Notification texts in the reader's language, made from the parameters kept with them.

A notification stores its English title and body (what English readers get, and all an
older row has) and ``params``; any other language renders the title and body again from
the kind's templates. Counts are written as "label: number", so no language needs plural
rules. The errors it lists are sync errors (``sync_errors``).
"""

from __future__ import annotations

from typing import Any

from invoicesync_api.i18n.catalog import N_, render
from invoicesync_api.i18n.status_reasons import status_reason
from invoicesync_api.i18n.sync_errors import SYSTEM_NAMES, localised_error, sync_error_message
from invoicesync_api.i18n.webhook_reasons import disabled_reason
from invoicesync_shared.states import IntegrationStatus

RUN_TITLE = N_("Sync finished")
RUN_TITLE_FAILED = N_("Sync finished, failed: {failed}")
RUN_ONE_SYSTEM = N_(
    "Documents synced: {synced} of {documents}; failed: {failed}; new customers created: "
    "{customers}."
)
RUN_SYSTEMS = N_(
    "Documents: {documents}, each to {systems} accounting systems; sends synced: {synced} of "
    "{total}; failed: {failed}; new customers created: {customers}."
)
RUN_SUPPLIERS = N_("New suppliers created: {suppliers}.")
RUN_MOVED = N_("Moved until {until} ({why}): {count}.")
WAIT_REASONS = {
    "daily_limit": N_("{system}'s daily API limit was reached"),
    "rate_limited": N_("{system} asked us to wait"),
    "error_limit": N_("too many calls were refused by {system} within the hour"),
}
DUPLICATE_TITLE = N_("Booking number {number} was given to {count} documents")
DUPLICATE_BODY = N_(
    "{system} gave booking number {number} to documents {names}. An entry was probably "
    "deleted there. Repair with POST /v1/integrations/{integration_id}/repair (from "
    "{earliest})."
)
MISSING_TITLE = N_("Entry {number} ({document}) was deleted in {system}")
MISSING_BODY = N_(
    "Document {document} is booked as {number}, but that entry no longer exists. Repair "
    "with POST /v1/integrations/{integration_id}/repair (from {issue_date})."
)
CONNECTION_TITLE = N_("{system}: the connection needs attention")
CONNECTION_REAUTHORIZE = N_(
    "{system} said: {reason}. Connect it again to resume syncing; its documents wait until then."
)
CONNECTION_FIX = N_(
    "{system} said: {reason}. Fix the connection and verify it again; its documents wait "
    "until then."
)

PAUSED_TITLE = N_("{system}: sending paused after {in_a_row} failures in a row")
PAUSED_BODY = N_(
    "{in_a_row} documents in a row were refused by {system} for the same reason ({code}): "
    "{reason} Fix this in {system}, then resume the integration (POST "
    "/v1/integrations/{integration_id}/resume): the documents waiting meanwhile are sent "
    "then, in order. The refused ones can be retried."
)

RECONCILIATION_TITLE = N_("Reconciliation with {system}: differences found: {differences}")
RECONCILIATION_BODY = N_("{period_from} to {period_to}: {listed}.")
RECONCILIATION_LISTS = {
    "missing_in_accounting": N_("missing in the accounting system"),
    "unknown_in_accounting": N_("unknown entries with our reference"),
    "typed_by_hand": N_("entered by hand"),
    "mismatched": N_("amount, date or customer differ"),
    "number_gaps": N_("gaps in the booking numbers"),
    "duplicate_numbers": N_("duplicate booking numbers"),
    "payment_differences": N_("payment status differs"),
}


def system_name(system: str) -> str:
    return SYSTEM_NAMES.get(system, system)


def _run(language: str, p: dict[str, Any]) -> tuple[str, str]:
    failed = p["failed"]
    title = render(language, RUN_TITLE_FAILED, p) if failed else render(language, RUN_TITLE)
    body = render(language, RUN_SYSTEMS if p["systems"] > 1 else RUN_ONE_SYSTEM, p)
    if p.get("suppliers"):  # older notifications have no count; most runs create none
        body += " " + render(language, RUN_SUPPLIERS, p)
    for count, until, reason, system in p.get("moved", []):
        template = WAIT_REASONS.get(reason)
        why = render(language, template, {"system": system_name(system)}) if template else reason
        body += " " + render(language, RUN_MOVED, {"until": until, "why": why, "count": count})
    return title, body


def _duplicate(language: str, p: dict[str, Any]) -> tuple[str, str]:
    params = {**p, "system": system_name(p["system"])}
    return render(language, DUPLICATE_TITLE, params), render(language, DUPLICATE_BODY, params)


def _missing(language: str, p: dict[str, Any]) -> tuple[str, str]:
    params = {**p, "system": system_name(p["system"])}
    return render(language, MISSING_TITLE, params), render(language, MISSING_BODY, params)


def paused_texts(language: str, p: dict[str, Any]) -> tuple[str, str]:
    """The failure brake's notification (integrations/brake.py): the refusal's own message,
    in ``language`` where the catalogue knows its code."""
    reason = (
        sync_error_message(language, p["code"], p["reason"], system=p["system"]) or ""
    ).strip()
    params = {
        **p,
        "system": system_name(p["system"]),
        "reason": reason if reason.endswith((".", "!", "?")) else f"{reason}.",
    }
    return render(language, PAUSED_TITLE, params), render(language, PAUSED_BODY, params)


def reconciliation_texts(language: str, p: dict[str, Any]) -> tuple[str, str]:
    """A reconciliation's differences (reconciliations/service.py), "label: count"."""
    listed = "; ".join(
        f"{render(language, RECONCILIATION_LISTS[name])}: {count}"
        for name, count in p["listed"].items()
        if name in RECONCILIATION_LISTS
    )
    params = {**p, "system": system_name(p["system"]), "listed": listed}
    return (
        render(language, RECONCILIATION_TITLE, params),
        render(language, RECONCILIATION_BODY, params),
    )


def _connection(language: str, p: dict[str, Any]) -> tuple[str, str]:
    params = {**p, "system": system_name(p["system"])}
    if p["status"] == IntegrationStatus.PAUSED:
        return paused_texts(language, p)
    title = render(language, CONNECTION_TITLE, params)
    # A reason with a code: its own text says what to do (rows before codes: the template).
    said = status_reason(
        language, p.get("reason_code"), None, system=p["system"], params=p.get("reason_params")
    )
    if said:
        return title, said
    reauthorize = p["status"] == IntegrationStatus.NEEDS_REAUTHORIZATION
    body = CONNECTION_REAUTHORIZE if reauthorize else CONNECTION_FIX
    return title, render(language, body, params)


ENDPOINT_TITLE = N_("A webhook endpoint was disabled")
ENDPOINT_BODY = N_(
    "Webhook endpoint {endpoint_id} ({url}) was disabled: {reason} Fix the receiver, then "
    "enable the endpoint again (PATCH enabled=true) and replay the deliveries you need."
)


def _endpoint(language: str, p: dict[str, Any]) -> tuple[str, str]:
    reason = disabled_reason(language, p.get("reason")) or ""
    return render(language, ENDPOINT_TITLE), render(
        language, ENDPOINT_BODY, {**p, "reason": reason}
    )


RENDERERS = {
    "webhook_endpoint_disabled": _endpoint,
    "sync_run_finished": _run,
    "duplicate_booking_number": _duplicate,
    "remote_entry_missing": _missing,
    "integration_status_changed": _connection,
    "reconciliation_differences": reconciliation_texts,
}


def localised(
    language: str,
    kind: str,
    title: str,
    body: str,
    params: dict[str, Any] | None,
    errors: list[dict[str, Any]],
) -> tuple[str, str, list[dict[str, Any]]]:
    """Title, body and errors of a notification in ``language``."""
    known = {"booking_number": (params or {}).get("number"), "system": (params or {}).get("system")}
    listed = [localised_error(language, e, **known) for e in errors]
    renderer = RENDERERS.get(kind)
    if language == "en" or params is None or renderer is None:
        return title, body, listed
    return (*renderer(language, params), listed)
