"""What a sync outcome tells webhook consumers (queued in the same transaction); its
messages in the partner's default language, as no request accompanies a webhook."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.db.models import Document, DocumentSync, SyncRun
from invoicesync_api.i18n.status_reasons import reason_in
from invoicesync_api.i18n.sync_errors import localised_error, sync_error_message
from invoicesync_api.partners import repository as partners
from invoicesync_api.webhooks.service import publish
from invoicesync_shared.db.models import Integration
from invoicesync_shared.states import SyncStatus

EVENT_FOR_STATUS: dict[str, str] = {
    SyncStatus.BOOKED: "document.booked",
    SyncStatus.SENT: "document.sent",
    SyncStatus.FAILED: "document.sync_failed",
    SyncStatus.AMBIGUOUS: "document.sync_failed",
}


async def document_outcome(
    session: AsyncSession, document: Document, integration: Integration, state: DocumentSync
) -> None:
    event_type = EVENT_FOR_STATUS.get(state.status)
    if event_type is None:
        return
    error = None
    if state.error_code:
        language = await partners.default_language(session, document.partner_id)
        message = sync_error_message(
            language,
            state.error_code,
            state.error_message,
            system=integration.system,
            number=document.number,
            booking_number=state.booking_number,
        )
        error = {"code": state.error_code, "message": message, "retryable": state.error_retryable}
    await publish(
        session,
        partner_id=document.partner_id,
        event_type=event_type,
        data={
            "document_id": document.id,
            "kind": document.kind,
            "number": document.number,
            "client_id": document.client_id,
            "integration_id": integration.id,
            "system": integration.system,
            "status": state.status,
            "booking_number": state.booking_number,
            "remote_id": state.remote_id,
            "sent_at": state.sent_at,
            "error": error,
        },
    )


async def run_finished(session: AsyncSession, run: SyncRun, totals: dict[str, int]) -> None:
    errors = run.errors
    if errors:
        language = await partners.default_language(session, run.partner_id)
        errors = [localised_error(language, e) for e in errors]
    await publish(
        session,
        partner_id=run.partner_id,
        event_type="sync_run.finished",
        data={
            "sync_run_id": run.id,
            "client_id": run.client_id,
            "trigger": run.trigger,
            "totals": totals,
            "errors": errors,
            "deferred": run.deferred,
        },
    )


async def integration_status(
    session: AsyncSession, integration: Integration, *, cause: dict[str, str] | None = None
) -> None:
    """``cause``: why sending stopped (a stable ``code`` and a ``message`` to act on), when
    it did; left out otherwise. Messages in the partner's language."""
    language = await partners.default_language(session, integration.partner_id)
    reason = reason_in(language, integration)
    if cause is not None and cause.get("message") == integration.status_reason:
        cause = {**cause, "message": reason or cause["message"]}
    await publish(
        session,
        partner_id=integration.partner_id,
        event_type="integration.status_changed",
        data={
            "integration_id": integration.id,
            "client_id": integration.client_id,
            "system": integration.system,
            "status": integration.status,
            "reason": reason,
            **({"cause": cause} if cause is not None else {}),
        },
    )
