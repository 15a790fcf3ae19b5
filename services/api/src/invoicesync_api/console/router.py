"""/console: the accountant's pages, rendered on the server (htmx enhances them).

Every page checks the session's key as the API checks a bearer key (``deps.authenticate``)
and reads through the API's repositories; actions are plain forms (POST, then a redirect
back), shown only to keys with the ``write`` scope and refused to others all the same.
Not in the OpenAPI contract: these are pages, not API."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Coroutine
from datetime import date
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import BeforeValidator
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.api_keys.scopes import Scope
from invoicesync_api.clients import repository as clients
from invoicesync_api.console import inbox, repository, session
from invoicesync_api.console.entry_links import entry_url
from invoicesync_api.console.health import Activity, health
from invoicesync_api.console.i18n import ENDONYMS, Translator, remember, translator
from invoicesync_api.console.labels import (
    COUNT_LABELS,
    INTEGRATION_LABELS,
    KINDS,
    LABELS,
    PAYMENT_LABELS,
    SYSTEMS,
    system_names,
)
from invoicesync_api.console.return_to import console_path
from invoicesync_api.db.models import Document, DocumentSync
from invoicesync_api.deps import Caller, SessionDep, SettingsDep, authenticate
from invoicesync_api.documents import repository as documents
from invoicesync_api.documents import service as document_service
from invoicesync_api.errors.exceptions import ApiError, Unauthorized, Unprocessable
from invoicesync_api.i18n.catalog import N_, render
from invoicesync_api.i18n.languages import LANGUAGES
from invoicesync_api.i18n.sync_errors import sync_error_message
from invoicesync_api.integrations import brake
from invoicesync_api.integrations import repository as integrations
from invoicesync_api.integrations import service as integration_service
from invoicesync_api.integrations.oauth import OAUTH_SYSTEMS
from invoicesync_api.notifications import repository as notifications
from invoicesync_api.rate_limits import TooManyRequests
from invoicesync_api.sync import repository as sync_runs
from invoicesync_api.sync import service as sync_service
from invoicesync_api.sync.schemas import SyncRunIn
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.documents import DocumentKind
from invoicesync_shared.states import SyncStatus

PAGE_SIZE = 25
INBOX_DOCUMENTS_SHOWN = 10  # per cause; the count says how many there are
RUN_DOCUMENTS_SHOWN = 100
POLL_SECONDS = 1
NOTIFICATIONS_SHOWN = 50
SIGN_IN = "/console/sign-in"

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.add_extension("jinja2.ext.i18n")


class SignInRequired(Exception):
    """No session, or its key no longer works: back to the form."""

    def __init__(self, error: str | None = None) -> None:
        super().__init__(error)
        self.error = error


def _redirect(request: Request, url: str) -> Response:
    """303 for a browser; htmx follows ``HX-Redirect`` with a full page load instead."""
    if request.headers.get("HX-Request"):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


class ConsoleRoute(APIRoute):
    """Errors on a console page answer as a page (the API's are problem+json)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired as exc:
                url = SIGN_IN + (f"?{urlencode({'ended': '1'})}" if exc.error else "")
                response = _redirect(request, url)
                session.end(request, response)
                return response
            except ApiError as exc:  # the API's message, in the page's language
                language = translator(request).locale
                return _error_page(request, exc.status, render(language, exc.template, exc.params))
            except RequestValidationError:
                t = translator(request)
                return _error_page(request, 422, t.gettext("This address is not valid."))

        return handle


router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


class Viewer:
    """The signed-in partner's key, its scopes and the request's language."""

    def __init__(self, caller: Caller, csrf: str, t: Translator) -> None:
        self.caller, self.csrf, self.t = caller, csrf, t

    @property
    def can_write(self) -> bool:
        return Scope.WRITE in self.caller.scopes

    @property
    def can_admin(self) -> bool:
        return Scope.ADMIN in self.caller.scopes


async def get_viewer(request: Request) -> Viewer:
    opened = session.read(request)
    if opened is None:
        raise SignInRequired
    try:
        caller = await authenticate(request, opened.api_key)
    except Unauthorized as exc:  # revoked or expired since sign-in
        raise SignInRequired(exc.detail) from exc
    if Scope.READ not in caller.scopes:
        raise SignInRequired("read scope missing")
    return Viewer(caller, opened.csrf, translator(request))


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


def _check_csrf(viewer: Viewer, token: str) -> None:
    if not secrets.compare_digest(token.encode(), viewer.csrf.encode()):
        raise _Refused(viewer.t.gettext("This form has expired; open the page again."))


def _need_write(viewer: Viewer) -> None:
    if not viewer.can_write:
        raise _Refused(viewer.t.gettext("This API key may only read."))


def _need_admin(viewer: Viewer) -> None:
    if not viewer.can_admin:
        raise _Refused(viewer.t.gettext("This needs an API key with the admin scope."))


async def get_admin_form(viewer: ViewerDep, csrf: Annotated[str, Form()] = "") -> Viewer:
    """Every admin form's preamble: the session's token posted back, then the admin
    scope (as the API's routes need it); refused all the same when the form is hidden."""
    _check_csrf(viewer, csrf)
    _need_admin(viewer)
    return viewer


AdminFormDep = Annotated[Viewer, Depends(get_admin_form)]


class _Refused(ApiError):
    status, code, title = 403, "refused", N_("Refused")


def _page(
    request: Request,
    template: str,
    t: Translator,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        {
            "_": t.gettext,
            "gettext": t.gettext,
            "ngettext": t.ngettext,
            "locale": t.locale,
            "labels": LABELS,
            "count_labels": COUNT_LABELS,
            "sync_error": partial(_sync_error, t.locale),
            "languages": [(code, ENDONYMS[code]) for code in LANGUAGES],
            "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            **context,
        },
        status_code=status_code,
    )


def _sync_error(
    language: str, state: DocumentSync, integration: Integration, document: Document
) -> str | None:
    """A sync state's error in the page's language (the stored English in English)."""
    return sync_error_message(
        language,
        state.error_code,
        state.error_message,
        system=integration.system,
        number=document.number,
        booking_number=state.booking_number,
    )


def _error_page(request: Request, status: int, detail: str) -> HTMLResponse:
    t = translator(request)
    return _page(request, "error.html", t, status, status=status, detail=detail, viewer=None)


@router.get("", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    return RedirectResponse("/console/clients", status_code=303)


Language = Literal["en", "de", "nl", "es", "fr"]


@router.post("/language", response_class=HTMLResponse)
async def choose_language(
    request: Request,
    language: Annotated[Language, Form()],
    back: Annotated[str, Form(max_length=2000)] = "/console/clients",
) -> Response:
    """The switch in every page's header: remembered in a cookie (also before sign-in),
    then back to the page it was used on (a console page only: no open redirect)."""
    response = RedirectResponse(console_path(back) or "/console/clients", status_code=303)
    remember(request, response, language)
    return response


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(request: Request, ended: str | None = None) -> Response:
    t = translator(request)
    error = t.gettext("Your session has ended; sign in again.") if ended else None
    return _page(request, "sign_in.html", t, error=error, viewer=None)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request, api_key: Annotated[str, Form(max_length=512)] = "") -> Response:
    """The key is checked like a bearer key: a wrong one counts towards the address's
    failed-authentication slow-down, and past it the form answers 429 as the API does."""
    t = translator(request)
    error, status = None, 200
    try:
        caller = await authenticate(request, api_key.strip())
    except Unauthorized:
        error, status = (
            t.gettext("This API key is unknown or revoked. Check it and try again."),
            401,
        )
    except TooManyRequests as exc:
        retry = str(exc.extra.get("retry_after", 1))
        error = t.gettext("Too many attempts. Wait %(seconds)s seconds, then try again.") % {
            "seconds": retry
        }
        status = 429  # Retry-After: RateLimitHeaders puts it on, as on the API's 429s
    else:
        if Scope.READ not in caller.scopes:
            error, status = t.gettext("This API key may not read; use a key with 'read'."), 403
    if error is not None:
        return _page(request, "sign_in.html", t, status, error=error, viewer=None)
    response = RedirectResponse("/console/clients", status_code=303)
    session.start(request, response, api_key.strip())
    return response


@router.post("/sign-out", response_class=HTMLResponse)
async def sign_out(
    viewer: ViewerDep, request: Request, csrf: Annotated[str, Form()] = ""
) -> Response:
    _check_csrf(viewer, csrf)
    response = _redirect(request, SIGN_IN)
    session.end(request, response)
    return response


@router.get("/bell", response_class=HTMLResponse)
async def bell(request: Request, viewer: ViewerDep, db: SessionDep) -> Response:
    """The header's bell alone, for htmx to refresh it."""
    unread = await repository.count_unread(db, viewer.caller.partner_id)
    return _page(request, "_bell.html", viewer.t, unread=unread)


@router.get("/clients", response_class=HTMLResponse)
async def clients_page(
    request: Request,
    viewer: ViewerDep,
    db: SessionDep,
    q: Annotated[str, Query(max_length=200)] = "",
    cursor: str | None = None,
) -> Response:
    rows, next_cursor = await clients.list_clients(
        db, viewer.caller.partner_id, limit=PAGE_SIZE, cursor=cursor, name_contains=q.strip()
    )
    by_client = await repository.integrations_of(db, [c.id for c in rows])
    activity = await repository.activity_of(db, [i.id for ii in by_client.values() for i in ii])
    items = [
        {
            "client": c,
            "integrations": [
                {
                    "integration": i,
                    "name": system_names(by_client[c.id], viewer.t.gettext)[i.id],
                    "health": health(i.status, activity.get(i.id, Activity())),
                    "activity": activity.get(i.id, Activity()),
                }
                for i in by_client[c.id]
            ],
        }
        for c in rows
    ]
    return _page(
        request,
        "clients.html",
        viewer.t,
        viewer=viewer,
        unread=await repository.count_unread(db, viewer.caller.partner_id),
        items=items,
        q=q,
        first_page=cursor is not None,
        next_url=(f"?{urlencode({'q': q, 'cursor': next_cursor})}" if next_cursor else None),
    )


DocumentFilter = Literal["all", "not_synced", "failed"]
SystemFilter = Literal["", "exact", "lexware", "yuki"]
StatusFilter = Literal["", "pending", "sending", "sent", "booked", "failed", "ambiguous"]


def _blank_is_none(value: object) -> object:
    """An empty date field of a GET form means no bound."""
    return None if value == "" else value


Kind = DocumentKind


@router.get("/clients/{client_id}/documents", response_class=HTMLResponse)
async def documents_page(
    request: Request,
    client_id: uuid.UUID,
    viewer: ViewerDep,
    db: SessionDep,
    settings: SettingsDep,
    kind: Kind = "invoice",
    show: DocumentFilter = "all",
    system: SystemFilter = "",
    status: StatusFilter = "",
    issued_from: Annotated[date | None, BeforeValidator(_blank_is_none)] = None,
    issued_to: Annotated[date | None, BeforeValidator(_blank_is_none)] = None,
    cursor: str | None = None,
) -> Response:
    """The API's document filters (as ``GET /v1/invoices``), keyset-paged."""
    client = await clients.get_client(db, client_id, viewer.caller.partner_id)
    columns = await integrations.list_for_client(db, client.id)
    names = system_names(columns, viewer.t.gettext)
    filters = documents.DocumentFilters(
        kind=kind,
        partner_id=viewer.caller.partner_id,
        client_id=client.id,
        booking_number="null" if show == "not_synced" else None,
        sync_status=SyncStatus.FAILED if show == "failed" else (status or None),
        system=system or None,
        issued_from=issued_from,
        issued_to=issued_to,
    )
    rows, next_cursor = await documents.list_documents(db, filters, limit=PAGE_SIZE, cursor=cursor)
    states = await documents.sync_states(db, [d.id for d in rows])
    items = [
        {
            "document": d,
            "states": {integration.id: state for state, integration in states[d.id]},
            "failed": any(
                s.status in (SyncStatus.FAILED, SyncStatus.AMBIGUOUS) for s, _ in states[d.id]
            ),
        }
        for d in rows
    ]
    query = {
        "kind": kind,
        "show": show,
        "system": system,
        "status": status,
        "issued_from": issued_from.isoformat() if issued_from else "",
        "issued_to": issued_to.isoformat() if issued_to else "",
    }
    return _page(
        request,
        "documents.html",
        viewer.t,
        viewer=viewer,
        unread=await repository.count_unread(db, viewer.caller.partner_id),
        client=client,
        columns=[(i, names[i.id]) for i in columns],
        items=items,
        kind=kind,
        kinds=KINDS,
        show=show,
        filter=query,
        systems=SYSTEMS,
        statuses=[str(s) for s in SyncStatus],
        payment_labels=PAYMENT_LABELS,
        entry_link=partial(entry_url, settings),
        first_url=f"?{urlencode(query)}" if cursor else None,
        next_url=f"?{urlencode({**query, 'cursor': next_cursor})}" if next_cursor else None,
        back=f"{request.url.path}?{request.url.query}",
    )


@router.post("/documents/{document_id}/retry", response_class=HTMLResponse)
async def retry_document(
    request: Request,
    document_id: uuid.UUID,
    viewer: ViewerDep,
    db: SessionDep,
    kind: Annotated[Kind, Form()],
    csrf: Annotated[str, Form()] = "",
    back: Annotated[Literal["documents", "inbox"], Form()] = "documents",
) -> Response:
    """Send a failed document again (as ``POST /v1/invoices/{id}/retry``), then back to
    its client's documents."""
    _check_csrf(viewer, csrf)
    _need_write(viewer)
    document = await document_service.get_document(
        db, document_id, viewer.caller.partner_id, kind, lock=True
    )
    await document_service.retry(db, document)
    if back == "inbox":
        return _redirect(request, "/console/inbox")
    return _redirect(request, f"/console/clients/{document.client_id}/documents?kind={kind}")


@router.get("/notifications", response_class=HTMLResponse)
async def notifications_page(request: Request, viewer: ViewerDep, db: SessionDep) -> Response:
    """Unread first, then the latest read ones."""
    partner = viewer.caller.partner_id
    unread = await notifications.list_notifications(
        db, partner, unread=True, limit=NOTIFICATIONS_SHOWN
    )
    read = await notifications.list_notifications(
        db, partner, unread=False, limit=NOTIFICATIONS_SHOWN
    )
    return _page(
        request,
        "notifications.html",
        viewer.t,
        viewer=viewer,
        unread=await repository.count_unread(db, partner),
        unread_items=unread,
        read_items=read,
    )


@router.post("/notifications/{notification_id}/read", response_class=HTMLResponse)
async def mark_read(
    request: Request,
    notification_id: uuid.UUID,
    viewer: ViewerDep,
    db: SessionDep,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    _check_csrf(viewer, csrf)
    _need_write(viewer)
    notification = await notifications.get_notification(
        db, notification_id, viewer.caller.partner_id
    )
    notifications.mark_read(notification)
    return _redirect(request, "/console/notifications")


@router.post("/clients/{client_id}/send", response_class=HTMLResponse)
async def send_to_accounting(
    request: Request,
    client_id: uuid.UUID,
    viewer: ViewerDep,
    db: SessionDep,
    document_ids: Annotated[list[uuid.UUID], Form(max_length=PAGE_SIZE)] = [],  # noqa: B006
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The chosen documents as one manual sync run (as ``POST /v1/sync-runs``), then its
    progress page."""
    _check_csrf(viewer, csrf)
    _need_write(viewer)
    if not document_ids:
        raise Unprocessable(viewer.t.gettext("Choose at least one document to send."))
    run = await sync_service.start(
        db, SyncRunIn(client_id=client_id, document_ids=document_ids), viewer.caller.partner_id
    )
    await sync_runs.save_run(db, run)
    return _redirect(request, f"/console/sync-runs/{run.id}")


async def _run_context(db: AsyncSession, viewer: Viewer, run_id: uuid.UUID) -> dict[str, Any]:
    """What the progress shows: the run's totals and its documents' states now."""
    run = await sync_runs.get_run(db, run_id, viewer.caller.partner_id)
    client = await clients.get_client(db, run.client_id, viewer.caller.partner_id)
    columns = [
        i for i in await integrations.list_for_client(db, client.id) if i.id in run.integration_ids
    ]
    names = system_names(columns, viewer.t.gettext)
    rows = await repository.run_documents(db, run.id, RUN_DOCUMENTS_SHOWN)
    states = await documents.sync_states(db, [d.id for d in rows])
    totals = sync_service.totals(run)
    return {
        "run": run,
        "client": client,
        "totals": totals,
        "settled": totals["documents_total"] - totals["documents_pending"],
        "columns": [(i, names[i.id]) for i in columns],
        "items": [{"document": d, "states": {i.id: s for s, i in states[d.id]}} for d in rows],
        "poll_seconds": POLL_SECONDS,
    }


@router.get("/sync-runs/{run_id}", response_class=HTMLResponse)
async def run_page(
    request: Request, run_id: uuid.UUID, viewer: ViewerDep, db: SessionDep
) -> Response:
    """A run's live progress: the fragment below polls itself until the run finishes."""
    context = await _run_context(db, viewer, run_id)
    unread = await repository.count_unread(db, viewer.caller.partner_id)
    return _page(request, "sync_run.html", viewer.t, viewer=viewer, unread=unread, **context)


@router.get("/sync-runs/{run_id}/progress", response_class=HTMLResponse)
async def run_progress(
    request: Request, run_id: uuid.UUID, viewer: ViewerDep, db: SessionDep
) -> Response:
    """The progress fragment for htmx; once finished it stops polling and refreshes the
    bell out of band (the run's notification is there now)."""
    context = await _run_context(db, viewer, run_id)
    unread = await repository.count_unread(db, viewer.caller.partner_id)
    return _page(
        request, "_run_progress.html", viewer.t, viewer=viewer, unread=unread, oob=True, **context
    )


@router.get("/inbox", response_class=HTMLResponse)
async def inbox_page(
    request: Request, viewer: ViewerDep, db: SessionDep, settings: SettingsDep
) -> Response:
    """Failed sends, duplicate booking numbers and integrations that need a person,
    across all clients, by cause."""
    partner = viewer.caller.partner_id
    counts = await repository.failure_counts(db, partner)
    failures = await repository.failures(db, partner, INBOX_DOCUMENTS_SHOWN)
    flagged_counts, flagged = await repository.flagged(db, partner, INBOX_DOCUMENTS_SHOWN)
    attention = list(await repository.integrations_needing_attention(db, partner))
    for key, rows in flagged.items():  # a cause may hold failed and flagged sends alike
        failures[key] = [*failures.get(key, []), *rows][:INBOX_DOCUMENTS_SHOWN]
        counts[key] = counts.get(key, 0) + flagged_counts[key]
    return _page(
        request,
        "inbox.html",
        viewer.t,
        viewer=viewer,
        unread=await repository.count_unread(db, partner),
        problems=inbox.group(
            viewer.t.locale,
            counts,
            failures,
            attention,
            partial(entry_url, settings),
        ),
        systems=SYSTEMS,
        integration_labels=INTEGRATION_LABELS,
        oauth_systems=OAUTH_SYSTEMS,
    )


@router.post("/integrations/{integration_id}/resume", response_class=HTMLResponse)
async def resume_integration(
    request: Request,
    integration_id: uuid.UUID,
    viewer: AdminFormDep,
    db: SessionDep,
) -> Response:
    """Send again after the failure brake paused it (as ``POST
    /v1/integrations/{id}/resume``), then back to the inbox."""
    integration = await integrations.get_integration(db, integration_id, viewer.caller.partner_id)
    await brake.resume(db, integration)
    return _redirect(request, "/console/inbox")


@router.post("/integrations/{integration_id}/reconnect", response_class=HTMLResponse)
async def reconnect_integration(
    integration_id: uuid.UUID,
    viewer: AdminFormDep,
    db: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Allow access again (as ``POST /v1/integrations/{id}/reconnect``): straight on to
    the accounting system's consent page, whose callback leads back to the console."""
    integration = await integrations.get_integration(db, integration_id, viewer.caller.partner_id)
    url = integration_service.begin_reconnect(integration, settings, console=True)
    return RedirectResponse(url, status_code=303)
