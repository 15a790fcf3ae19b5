"""Sync runs: start them, count outcomes as they arrive, finish with one notification."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.clients import repository as clients
from invoicesync_api.db.models import (
    Client,
    Document,
    Notification,
    SyncRun,
    SyncRunItem,
)
from invoicesync_api.documents import fanout
from invoicesync_api.errors.exceptions import Conflict, NotFound, Unprocessable
from invoicesync_api.i18n.catalog import N_
from invoicesync_api.i18n.sync_errors import localised_error
from invoicesync_api.integrations import repository as integrations
from invoicesync_api.sync import announce, moved, repository
from invoicesync_api.sync.schemas import SyncRunIn, SyncRunOut
from invoicesync_shared import clock
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.results import SyncDeferred, SyncResult
from invoicesync_shared.states import DocumentStatus, RunStatus


async def _integrations_for(
    session: AsyncSession, body: SyncRunIn, partner_id: uuid.UUID
) -> tuple[Client, list[Integration]]:
    client_id = body.client_id
    if body.integration_id:
        integration = await integrations.get_integration(session, body.integration_id, partner_id)
        client_id = integration.client_id
    if client_id is None and body.document_ids:
        document = await repository.find_document(session, body.document_ids[0])
        client_id = document.client_id if document and document.partner_id == partner_id else None
    if client_id is None:
        raise NotFound(N_("No such client."))
    client = await clients.get_client(session, client_id, partner_id)
    ids = await repository.active_integration_ids(session, client.id, only=body.integration_id)
    if not ids:
        raise Unprocessable(N_("There is no active integration to sync with."))
    return client, await repository.lock_integrations(session, ids)


async def _chosen_documents(
    session: AsyncSession, client: Client, ids: list[uuid.UUID]
) -> list[Document]:
    documents = await repository.list_documents(session, ids)
    found = {d.id: d for d in documents if d.client_id == client.id}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise NotFound(
            N_("No such documents for this client: {numbers}."),
            params={"numbers": ", ".join(missing)},
        )
    drafts = [d.number for d in found.values() if d.status != DocumentStatus.BOOKED]
    if drafts:
        raise Unprocessable(
            N_("Drafts are never synced; book them first: {numbers}."),
            params={"numbers": ", ".join(drafts)},
        )
    return [found[i] for i in ids]


async def start(
    session: AsyncSession,
    body: SyncRunIn,
    partner_id: uuid.UUID,
    *,
    trigger: str = "manual",
    started_at: datetime | None = None,
) -> SyncRun:
    """One run over the chosen scope; 409 while another run holds one of its integrations."""
    client, integrations = await _integrations_for(session, body, partner_id)
    running = await repository.running_run_for(session, [i.id for i in integrations])
    if running is not None:
        raise Conflict(
            N_("A sync run is already going for this integration."),
            extra={"sync_run_id": str(running.id)},
        )
    run = SyncRun(
        id=uuid.uuid4(),
        partner_id=partner_id,
        client_id=client.id,
        integration_ids=[i.id for i in integrations],
        trigger=trigger,
        status=RunStatus.RUNNING,
        errors=[],
        deferred=[],
        documents_synced=0,
        started_at=started_at or clock.now(),
    )
    await repository.add_run(session, run)
    plan = await _plan(session, client, integrations, body.document_ids)
    settled = await repository.settled_pairs(session, plan)
    for document, targets in plan.items():
        to_send = []
        items = {}
        for integration in targets:
            done = (document.id, integration.id) in settled
            items[integration.id] = SyncRunItem(
                sync_run_id=run.id,
                document_id=document.id,
                integration_id=integration.id,
                outcome="synced" if done else None,
            )
            session.add(items[integration.id])
            if done:  # booked or sent already: counted, not sent again (no second webhook)
                run.documents_synced += 1
            else:
                to_send.append(integration)
        if to_send:
            asked = await fanout.request_sync(
                session, document, client, to_send, sync_run_id=run.id
            )
            for state, integration in asked:
                if not fanout.asked(state):  # dated before the start date: no answer comes
                    _count_failure(
                        run,
                        items[integration.id],
                        number=document.number,
                        system=integration.system,
                        code=state.error_code,
                        message=state.error_message,
                    )
    run.documents_total = sum(len(t) for t in plan.values())
    if _settled(run) >= run.documents_total:
        await _finish(session, run)
    return run


async def _plan(
    session: AsyncSession,
    client: Client,
    integrations: list[Integration],
    chosen: list[uuid.UUID] | None,
) -> dict[Document, list[Integration]]:
    plan: dict[Document, list[Integration]] = defaultdict(list)
    if chosen:
        for document in await _chosen_documents(session, client, chosen):
            eligible = await fanout.eligible_integrations(session, client.id, document.created_at)
            ids = {i.id for i in eligible}
            plan[document] = [i for i in integrations if i.id in ids]
        return {d: t for d, t in plan.items() if t}
    for integration in integrations:
        for document in await repository.documents_to_catch_up(session, integration):
            plan[document].append(integration)
    return plan


async def record(
    session: AsyncSession,
    result: SyncResult,
    *,
    number: str | None,
    system: str,
    purchase: bool,
    error_code: str | None,
    error_message: str | None,
) -> None:
    """Count a result in its run, once, as synced or (``error_code``) failed; finish the
    run when nothing is pending. What a purchase document's push created is a supplier.

    The error is the document's outcome, which is not always the result's own: an answer
    that arrives after the document settled is counted as what it settled to."""
    opened = await _open_item(session, result)
    if opened is None:
        return
    item, run = opened
    if error_code is not None:
        _count_failure(
            run, item, number=number, system=system, code=error_code, message=error_message
        )
    else:
        item.outcome = "synced"
        run.documents_synced += 1
        if getattr(result, "customer_created", False):
            if purchase:
                run.suppliers_synced += 1
            else:
                run.customers_synced += 1
    if _settled(run) >= run.documents_total:
        await _finish(session, run)


async def record_deferred(
    session: AsyncSession, result: SyncDeferred, *, number: str | None, system: str
) -> None:
    """Count a document its connector moved on (a spent budget) in its run, once, with
    until when and why: the run does not wait for the reset, so a nightly run finishes
    and the next night's can start. Its later answer changes nothing in the run."""
    opened = await _open_item(session, result)
    if opened is None:
        return
    item, run = opened
    item.outcome = "deferred"
    deferral = moved.entry(
        document_id=str(item.document_id),
        number=number,
        integration_id=str(item.integration_id),
        system=system,
        waiting_until=result.waiting_until,
        reason=result.reason,
    )
    run.deferred = [*run.deferred, deferral]
    if _settled(run) >= run.documents_total:
        await _finish(session, run)


async def _open_item(
    session: AsyncSession, result: SyncResult
) -> tuple[SyncRunItem, SyncRun] | None:
    """The result's run item, locked, with its run — None if it has no run or its outcome
    is counted already (a redelivered or late answer)."""
    if result.sync_run_id is None:
        return None
    item = await repository.lock_run_item(
        session, result.sync_run_id, result.document_id, result.integration_id
    )
    if item is None or item.outcome is not None:
        return None
    run = await repository.lock_run(session, result.sync_run_id)
    assert run is not None
    return item, run


def _settled(run: SyncRun) -> int:
    """Items with an outcome: synced, failed or moved on."""
    return run.documents_synced + run.documents_failed + len(run.deferred)


def _count_failure(
    run: SyncRun,
    item: SyncRunItem,
    *,
    number: str | None,
    system: str,
    code: str | None,
    message: str | None,
) -> None:
    item.outcome = "failed"
    run.documents_failed += 1
    error = {
        "document_id": str(item.document_id),
        "number": number,
        "integration_id": str(item.integration_id),
        "system": system,
        "code": code,
        "message": message,
    }
    run.errors = [*run.errors, error]


async def _finish(session: AsyncSession, run: SyncRun) -> None:
    run.status, run.finished_at = RunStatus.FINISHED, clock.now()
    await announce.run_finished(session, run, totals(run))
    if run.trigger != "manual":
        return  # nightly runs tell no one; webhooks still fire
    failed = run.documents_failed
    params = await _summary_params(session, run)
    session.add(
        Notification(
            partner_id=run.partner_id,
            client_id=run.client_id,
            kind="sync_run_finished",
            sync_run_id=run.id,
            title="Sync finished"
            + (f" with {failed} error{'s' if failed != 1 else ''}" if failed else ""),
            body=_summary(run, params["documents"]),
            counts=totals(run),
            params=params,
            errors=run.errors,
        )
    )


async def _summary_params(session: AsyncSession, run: SyncRun) -> dict[str, Any]:
    """What the notification's texts are made of, to write them in the reader's language
    (i18n.notifications)."""
    return {
        "documents": await repository.run_document_count(session, run.id),
        "systems": len(run.integration_ids),
        "synced": run.documents_synced,
        "total": run.documents_total,
        "failed": run.documents_failed,
        "customers": run.customers_synced,
        "suppliers": run.suppliers_synced,
        "moved": moved.waits(run.deferred),
    }


def _summary(run: SyncRun, documents: int) -> str:
    """In a bookkeeper's words: documents are documents, each sent to every system of the
    run (the totals count one per document and system)."""
    systems = len(run.integration_ids)
    plural = "s" if documents != 1 else ""
    sends = (
        f"{documents} document{plural} to {systems} accounting systems: "
        f"{run.documents_synced} of {run.documents_total} sends synced"
        if systems > 1
        else f"{run.documents_synced} of {documents} document{plural} synced"
    )
    customers = run.customers_synced
    moved_on = moved.sentence(run.deferred, noun="document" if systems == 1 else "send")
    return (
        f"{sends}, {run.documents_failed} failed; "
        + (f"{moved_on}; " if moved_on else "")
        + f"{customers} new customer{'s' if customers != 1 else ''} created."
        + _suppliers_created(run.suppliers_synced)
    )


def _suppliers_created(suppliers: int) -> str:
    """Said only when a run created one: most runs book sales documents alone."""
    if not suppliers:
        return ""
    return f" {suppliers} new supplier{'s' if suppliers != 1 else ''} created."


def totals(run: SyncRun) -> dict[str, int]:
    return {
        "documents_total": run.documents_total,
        "documents_synced": run.documents_synced,
        "documents_failed": run.documents_failed,
        "documents_deferred": len(run.deferred),
        "customers_synced": run.customers_synced,
        "suppliers_synced": run.suppliers_synced,
        "documents_pending": run.documents_total - _settled(run),
    }


def run_out(run: SyncRun, language: str = "en") -> SyncRunOut:
    """The run as answered; its errors' messages in ``language``."""
    return SyncRunOut(
        id=run.id,
        client_id=run.client_id,
        integration_ids=run.integration_ids,
        trigger=run.trigger,
        status=run.status,
        totals=totals(run),
        errors=[localised_error(language, e) for e in run.errors],
        deferred=run.deferred,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )
