"""Reconciliations: start one (the connector is asked through the outbox), keep the
entries it reads, and once its read is over write the report, tell webhooks and, when
something differs, the bell once."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.db.models import Document, DocumentSync, Notification, Reconciliation
from invoicesync_api.errors.exceptions import Conflict, Unprocessable, ValidationFailed
from invoicesync_api.i18n import notifications, repair_reasons
from invoicesync_api.i18n import reconciliation_failures as failures
from invoicesync_api.i18n.catalog import N_
from invoicesync_api.integrations import repository as integrations
from invoicesync_api.partners import repository as partners
from invoicesync_api.reconciliations import compare, repository
from invoicesync_api.reconciliations.schemas import (
    MAX_DAYS,
    Failure,
    Progress,
    ReconciliationIn,
    ReconciliationOut,
)
from invoicesync_api.webhooks.service import publish
from invoicesync_shared import clock
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.reconciliations import (
    ReconciliationEntriesRead,
    ReconciliationRead,
    ReconciliationRequested,
    RemoteEntry,
)
from invoicesync_shared.outbox import writer as outbox
from invoicesync_shared.states import IntegrationStatus, RunStatus

SOURCE = "/api"
# A read still unanswered after this long (a connector down, its request lost) no longer
# holds the integration: the next start marks it failed.
GIVE_UP_AFTER = timedelta(hours=2)


async def start(
    session: AsyncSession,
    integration_id: uuid.UUID,
    body: ReconciliationIn,
    partner_id: uuid.UUID,
    *,
    trigger: str = "manual",
    started_at: datetime | None = None,
) -> tuple[Reconciliation, Integration]:
    """A new reconciliation, and its request in the outbox (same transaction). 409 while
    one of the integration runs; 422 for a period backwards or longer than a year."""
    _check_period(body)
    integration = await integrations.get_integration(session, integration_id, partner_id)
    await integrations.find_locked(session, integration.id)  # one start at a time
    if integration.status != IntegrationStatus.ACTIVE:
        raise Unprocessable(
            N_("The integration is {status}; only an active integration can be reconciled."),
            params={"status": integration.status.replace("_", " ")},
        )
    running = await repository.running_for(session, integration.id)
    if running is not None and clock.now() - running.started_at > GIVE_UP_AFTER:
        message = failures.english("no_answer")
        await _fail(session, running, integration, "no_answer", message)
        running = None
    if running is not None:
        raise Conflict(
            N_("A reconciliation is already running for this integration."),
            extra={"reconciliation_id": str(running.id)},
        )
    reconciliation = Reconciliation(
        id=uuid.uuid4(),
        partner_id=partner_id,
        client_id=integration.client_id,
        integration_id=integration.id,
        period_from=body.period_from,
        period_to=body.period_to,
        detailed=body.detailed,
        trigger=trigger,
        status=RunStatus.RUNNING,
        entries_read=0,
        calls_used=0,
        started_at=started_at or clock.now(),
    )
    session.add(reconciliation)
    request = ReconciliationRequested(
        reconciliation_id=reconciliation.id,
        integration_id=integration.id,
        system=integration.system,
        period_from=body.period_from,
        period_to=body.period_to,
        detailed=body.detailed,
    )
    outbox.add(
        session,
        request,
        subject=str(reconciliation.id),
        key=str(integration.client_id),
        source=SOURCE,
    )
    await session.flush()
    return reconciliation, integration


def _check_period(body: ReconciliationIn) -> None:
    if body.period_to < body.period_from:
        raise ValidationFailed([{"field": "to", "message": N_("must not be before from")}])
    if (body.period_to - body.period_from).days > MAX_DAYS:
        raise ValidationFailed(
            [
                {
                    "field": "to",
                    "message": N_("must be at most {days} days after from"),
                    "params": {"days": MAX_DAYS},
                }
            ]
        )


async def entries_read(session: AsyncSession, event: ReconciliationEntriesRead) -> None:
    reconciliation = await repository.lock(session, event.reconciliation_id)
    if reconciliation is None or reconciliation.status != RunStatus.RUNNING:
        return
    rows = [e.model_dump(mode="json") for e in event.entries]
    reconciliation.entries_read = await repository.save_entries(session, reconciliation.id, rows)
    reconciliation.calls_used = max(reconciliation.calls_used, event.calls_used)


async def read_over(session: AsyncSession, event: ReconciliationRead) -> None:
    """The connector's read is over: compare and finish, or fail with its reason."""
    reconciliation = await repository.lock(session, event.reconciliation_id)
    if reconciliation is None or reconciliation.status != RunStatus.RUNNING:
        return
    integration = await integrations.find_integration(session, reconciliation.integration_id)
    assert integration is not None
    reconciliation.calls_used = max(reconciliation.calls_used, event.calls_used)
    if event.failure_code is not None:
        await _fail(session, reconciliation, integration, event.failure_code, event.message or "")
        return
    stored = await repository.entries(session, reconciliation.id)
    reconciliation.entries_read = len(stored)
    if len(stored) < event.entries:
        message = failures.english("entries_lost", {"arrived": len(stored), "read": event.entries})
        await _fail(session, reconciliation, integration, "entries_lost", message)
        return
    documents = await repository.documents_of_period(
        session,
        integration.id,
        reconciliation.client_id,
        reconciliation.period_from,
        reconciliation.period_to,
    )
    theirs = [RemoteEntry.model_validate(e) for e in stored]
    report = compare.compare([_ours(d, s) for d, s in documents], theirs)
    report["calls_used"] = reconciliation.calls_used
    reconciliation.report = report
    await repository.drop_entries(session, reconciliation.id)  # the report keeps what matters
    reconciliation.status, reconciliation.finished_at = RunStatus.FINISHED, clock.now()
    await _announce(session, reconciliation, integration)
    if compare.has_differences(report):
        _notify(session, reconciliation, integration, report)


def _ours(document: Document, state: DocumentSync) -> compare.OurDocument:
    vat: dict[str, Decimal] = {}
    for line in document.lines:
        rate = str(Decimal(str(line["vat_rate"])).normalize())
        vat[rate] = vat.get(rate, Decimal("0.00")) + Decimal(str(line["vat_amount"]))
    return compare.OurDocument(
        id=document.id,
        number=document.number,
        kind=document.kind,
        issue_date=document.issue_date,
        customer=str(document.customer.get("name") or ""),
        net=document.net_total,
        vat=vat,
        gross=document.gross_total,
        sync_status=state.status,
        remote_id=state.remote_id,
        booking_number=state.booking_number,
        payment_status=state.payment_status,
    )


async def _fail(
    session: AsyncSession,
    reconciliation: Reconciliation,
    integration: Integration,
    code: str,
    message: str,
) -> None:
    reconciliation.status, reconciliation.finished_at = RunStatus.FAILED, clock.now()
    reconciliation.failure_code, reconciliation.failure_message = code, message
    await _announce(session, reconciliation, integration)


async def _announce(
    session: AsyncSession, reconciliation: Reconciliation, integration: Integration
) -> None:
    report = reconciliation.report or {}
    # The webhook's failure message in the partner's language (no request to ask).
    language = await partners.default_language(session, reconciliation.partner_id)
    await publish(
        session,
        partner_id=reconciliation.partner_id,
        event_type="reconciliation.finished",
        data={
            "reconciliation_id": reconciliation.id,
            "integration_id": integration.id,
            "client_id": reconciliation.client_id,
            "system": integration.system,
            "from": reconciliation.period_from,
            "to": reconciliation.period_to,
            "status": reconciliation.status,
            "failure": _failure(reconciliation, language, integration.system),
            "counts": report.get("counts"),
            "calls_used": reconciliation.calls_used,
        },
    )


def _notify(
    session: AsyncSession,
    reconciliation: Reconciliation,
    integration: Integration,
    report: dict[str, Any],
) -> None:
    """One notification per reconciliation with differences (unique in the table)."""
    differences = report["counts"]["differences"]
    listed = {
        name: len(report[name])
        for name in (
            "missing_in_accounting",
            "unknown_in_accounting",
            "typed_by_hand",
            "mismatched",
            "number_gaps",
            "duplicate_numbers",
            "payment_differences",
        )
        if report[name]
    }
    params: dict[str, Any] = {
        "system": integration.system,
        "differences": differences,
        "period_from": reconciliation.period_from.isoformat(),
        "period_to": reconciliation.period_to.isoformat(),
        "listed": listed,
    }
    title, body = notifications.reconciliation_texts("en", params)
    session.add(
        Notification(
            partner_id=reconciliation.partner_id,
            client_id=reconciliation.client_id,
            kind="reconciliation_differences",
            reconciliation_id=reconciliation.id,
            title=title,
            body=body,
            counts=listed,
            params=params,
            errors=[],
        )
    )


def _failure(
    reconciliation: Reconciliation, language: str = "en", system: str = ""
) -> dict[str, str] | None:
    if reconciliation.failure_code is None:
        return None
    message = failures.failure_message(
        language, reconciliation.failure_code, reconciliation.failure_message or "", system=system
    )
    return {"code": reconciliation.failure_code, "message": message}


def to_out(reconciliation: Reconciliation, system: str, language: str = "en") -> ReconciliationOut:
    """The reconciliation as answered; its failure's message in ``language``."""
    failure = _failure(reconciliation, language, system)
    return ReconciliationOut(
        id=reconciliation.id,
        integration_id=reconciliation.integration_id,
        client_id=reconciliation.client_id,
        system=system,
        period_from=reconciliation.period_from,
        period_to=reconciliation.period_to,
        detailed=reconciliation.detailed,
        trigger=reconciliation.trigger,
        status=reconciliation.status,
        failure=Failure(**failure) if failure else None,
        progress=Progress(
            entries_read=reconciliation.entries_read, calls_used=reconciliation.calls_used
        ),
        calls_used=reconciliation.calls_used,
        report=repair_reasons.report(language, reconciliation.report),
        started_at=reconciliation.started_at,
        finished_at=reconciliation.finished_at,
    )
