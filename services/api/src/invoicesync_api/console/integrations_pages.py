"""/console: a client's Integrations tab. Connect Exact and Lexware (the browser goes
through the system's consent page and the OAuth callback leads it back here) and Yuki
(access key and administration); settings; deactivate from a date; relink; reconnect;
and the one-call repair of duplicate booking numbers after a confirmation page that
shows what it will do.

Every change calls ``integrations.actions``, as the API's routes do, and needs the
``admin`` scope like them: other keys see no such form and are refused all the same."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from invoicesync_api.clients import repository as clients
from invoicesync_api.console import repository
from invoicesync_api.console.health import Activity, health
from invoicesync_api.console.i18n import _
from invoicesync_api.console.labels import SYSTEMS, system_names
from invoicesync_api.console.refusals import Refusal, refusal
from invoicesync_api.console.return_to import console_path
from invoicesync_api.console.router import (
    AdminFormDep,
    ConsoleRoute,
    Viewer,
    ViewerDep,
    _need_admin,
    _page,
    _redirect,
)
from invoicesync_api.deps import BoxDep, SessionDep, SettingsDep
from invoicesync_api.errors.exceptions import ConnectionFailed, InvalidSettings
from invoicesync_api.integrations import actions, oauth, service
from invoicesync_api.integrations import repository as integrations
from invoicesync_api.integrations.schemas import IntegrationIn, IntegrationPatch
from invoicesync_shared import clock
from invoicesync_shared.db.models import Integration
from invoicesync_shared.integration_settings import ExactSettings
from invoicesync_shared.states import IntegrationStatus

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

System = Literal["exact", "lexware", "yuki"]

# The settings a person types, per system: (name, label, input type). The book itself
# (Exact's division, Yuki's administration) is chosen on connect and changed by relink.
FIELD_LABELS = {
    "division": _("Division"),
    "sales_journal": _("Sales journal"),
    "purchase_journal": _("Purchase journal"),
    "credit_note_journal": _("Credit note journal"),
    "start_date": _("Start date"),
    "default_gl_account": _("Default G/L account (optional)"),
    "access_key": _("Access key"),
    "administration_id": _("Administration ID"),
}
FIELD_TYPES = {"division": "number", "start_date": "date", "access_key": "password"}
CONNECT_FIELDS: dict[str, tuple[str, ...]] = {
    "exact": ("division", "sales_journal", "credit_note_journal", "purchase_journal", "start_date"),
    "lexware": ("start_date",),
    "yuki": ("access_key", "administration_id", "start_date", "default_gl_account"),
}
BOOK_FIELDS = {"exact": ("division",), "yuki": ("administration_id",), "lexware": ()}
EDIT_FIELDS: dict[str, tuple[str, ...]] = {
    "exact": (
        "sales_journal",
        "credit_note_journal",
        "purchase_journal",
        "start_date",
        "default_gl_account",
    ),
    "lexware": ("start_date",),
    "yuki": ("start_date", "default_gl_account", "access_key"),
}
# Settings with a default the connector uses when none was given (integrations made before
# the setting existed have none stored): shown as what is in force.
SHOWN_DEFAULTS: dict[str, dict[str, Any]] = {
    "exact": {"purchase_journal": ExactSettings.model_fields["purchase_journal"].default},
}
REQUIRED = {
    "exact": {"division", "sales_journal", "credit_note_journal", "start_date"},
    "yuki": {"access_key", "administration_id"},
    "lexware": set(),
}


async def _typed(request: Request, names: tuple[str, ...]) -> dict[str, Any]:
    """The settings the form filled in (blank ones left out: unchanged)."""
    form = await request.form()
    typed: dict[str, Any] = {}
    for name in names:
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            typed[name] = value.strip()
    return typed


def _fields(
    names: tuple[str, ...], values: dict[str, Any], required: set[str], prefix: str
) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "id": f"{prefix}-{name}",
            "label": FIELD_LABELS[name],
            "type": FIELD_TYPES.get(name, "text"),
            "value": "" if name == "access_key" else values.get(name) or "",
            "required": name in required,
        }
        for name in names
    ]


async def _integration(db: SessionDep, viewer: Viewer, integration_id: uuid.UUID) -> Integration:
    return await integrations.get_integration(db, integration_id, viewer.caller.partner_id)


@router.get("/clients/{client_id}/integrations", response_class=HTMLResponse)
async def integrations_page(
    request: Request,
    client_id: uuid.UUID,
    viewer: ViewerDep,
    db: SessionDep,
    authorised: uuid.UUID | None = None,
) -> Response:
    """The client's integrations with their health; for admin keys the forms to connect
    one (and, back from a consent page, whether it worked)."""
    return await _integrations_view(request, viewer, db, client_id, authorised=authorised)


async def _integrations_view(
    request: Request,
    viewer: Viewer,
    db: SessionDep,
    client_id: uuid.UUID,
    *,
    authorised: uuid.UUID | None = None,
    refused: Refusal | None = None,
    system: str | None = None,
    entered: dict[str, Any] | None = None,
) -> Response:
    """The tab; after a refused connection (422) that system's form shows the refusal at
    its field, with what was entered (the access key never sent back)."""
    client = await clients.get_client(db, client_id, viewer.caller.partner_id)
    rows = await integrations.list_for_client(db, client.id)
    names = system_names(rows, viewer.t.gettext)
    activity = await repository.activity_of(db, [i.id for i in rows])
    items: list[dict[str, Any]] = [
        {
            "integration": i,
            "name": names[i.id],
            "health": health(i.status, activity.get(i.id, Activity())),
            "activity": activity.get(i.id, Activity()),
            "reason": service.integration_out(i, language=viewer.t.locale).status_reason,
            "oauth": i.system in oauth.OAUTH_SYSTEMS,
        }
        for i in rows
    ]
    back = next((i for i in items if i["integration"].id == authorised), None)
    connect = [
        {
            "system": shown,
            "name": SYSTEMS[shown],
            "oauth": shown in oauth.OAUTH_SYSTEMS,
            "fields": _fields(
                CONNECT_FIELDS[shown],
                (entered or {}) if shown == system else {},
                REQUIRED[shown],
                shown,
            ),
        }
        for shown in ("exact", "lexware", "yuki")
    ]
    return _page(
        request,
        "integrations.html",
        viewer.t,
        422 if refused else 200,
        refused=refused,
        refused_form=system,
        viewer=viewer,
        unread=await repository.count_unread(db, viewer.caller.partner_id),
        client=client,
        items=items,
        authorised=back,
        connect=connect,
    )


@router.post("/clients/{client_id}/integrations", response_class=HTMLResponse)
async def connect(
    request: Request,
    client_id: uuid.UUID,
    viewer: AdminFormDep,
    db: SessionDep,
    settings: SettingsDep,
    box: BoxDep,
    system: Annotated[System, Form()],
) -> Response:
    """As ``POST /v1/clients/{id}/integrations``: Exact and Lexware go on to their
    consent page; Yuki is checked at once."""
    client = await clients.get_client(db, client_id, viewer.caller.partner_id)
    typed = await _typed(request, CONNECT_FIELDS[system])
    try:
        body = IntegrationIn(system=system, settings=typed)
        integration, url = await actions.connect(db, settings, box, client, body, console=True)
    except (ConnectionFailed, InvalidSettings) as exc:
        await db.rollback()  # a refused connection leaves nothing behind
        refused = refusal(viewer.t.locale, exc, CONNECT_FIELDS[system])
        return await _integrations_view(
            request, viewer, db, client_id, refused=refused, system=system, entered=typed
        )
    if url is not None:
        return RedirectResponse(url, status_code=303)
    return _redirect(
        request, f"/console/clients/{client.id}/integrations?authorised={integration.id}"
    )


@router.get("/integrations/{integration_id}", response_class=HTMLResponse)
async def integration_page(
    request: Request, integration_id: uuid.UUID, viewer: ViewerDep, db: SessionDep
) -> Response:
    """One integration: its settings, and for admin keys the forms to change them,
    deactivate, relink, reconnect and repair."""
    integration = await _integration(db, viewer, integration_id)
    return await _integration_view(request, viewer, db, integration)


NIGHTLY = ("nightly_sync", "nightly_hour", "failure_brake_after", "nightly_reconciliation_days")


async def _integration_view(
    request: Request,
    viewer: Viewer,
    db: SessionDep,
    integration: Integration,
    *,
    refused: Refusal | None = None,
    form: str | None = None,
    entered: dict[str, Any] | None = None,
) -> Response:
    """The integration's page; after a refusal (422) the ``form`` that was sent shows
    it, at its field, with what was entered (a secret is never sent back)."""
    client = await clients.get_client(db, integration.client_id, viewer.caller.partner_id)
    name = system_names(await integrations.list_for_client(db, client.id), viewer.t.gettext)
    system = integration.system
    shown_defaults = SHOWN_DEFAULTS.get(system, {})
    current = {**shown_defaults, **{k: v for k, v in integration.settings.items() if k != "remote"}}
    activity = (await repository.activity_of(db, [integration.id])).get(integration.id)
    entered = entered or {}
    edit_values = {**current, **entered} if form == "edit" else current
    book_values = {**current, **entered} if form == "relink" else current
    nightly = {n: getattr(integration, n) for n in NIGHTLY}
    if form == "edit":
        nightly.update({n: entered[n] for n in NIGHTLY if n in entered})
    return _page(
        request,
        "integration.html",
        viewer.t,
        422 if refused else 200,
        viewer=viewer,
        unread=await repository.count_unread(db, viewer.caller.partner_id),
        client=client,
        integration=integration,
        name=name[integration.id],
        health=health(integration.status, activity or Activity()),
        reason=service.integration_out(integration, language=viewer.t.locale).status_reason,
        current=[(FIELD_LABELS[k], current[k]) for k in FIELD_LABELS if current.get(k)],
        edit=_fields(EDIT_FIELDS[system], edit_values, set(), "edit"),
        book=_fields(BOOK_FIELDS[system], book_values, set(), "relink"),
        nightly=nightly,
        refused=refused,
        refused_form=form,
        oauth=system in oauth.OAUTH_SYSTEMS,
        deactivated=integration.status == IntegrationStatus.DEACTIVATED,
        today=clock.now().date().isoformat(),
    )


async def _refused_view(
    request: Request,
    viewer: Viewer,
    db: SessionDep,
    integration_id: uuid.UUID,
    exc: ConnectionFailed | InvalidSettings,
    form: str,
    entered: dict[str, Any],
) -> Response:
    """The page again with the refusal in the form; nothing of the refused change kept."""
    await db.rollback()
    integration = await _integration(db, viewer, integration_id)
    shown = (*BOOK_FIELDS[integration.system], *EDIT_FIELDS[integration.system])
    refused = refusal(viewer.t.locale, exc, shown)
    return await _integration_view(
        request, viewer, db, integration, refused=refused, form=form, entered=entered
    )


def _back(integration: Integration) -> str:
    return f"/console/integrations/{integration.id}"


@router.post("/integrations/{integration_id}/settings", response_class=HTMLResponse)
async def change_settings(
    request: Request,
    integration_id: uuid.UUID,
    viewer: AdminFormDep,
    db: SessionDep,
    settings: SettingsDep,
    box: BoxDep,
    nightly_hour: Annotated[int, Form(ge=0, le=23)],
    failure_brake_after: Annotated[int, Form(ge=1, le=1000)],
    nightly_reconciliation_days: Annotated[int, Form(ge=0, le=92)],
    nightly_sync: Annotated[bool, Form()] = False,
) -> Response:
    """As ``PATCH /v1/integrations/{id}``: changed settings are checked with the
    accounting system first."""
    integration = await _integration(db, viewer, integration_id)
    typed = await _typed(request, EDIT_FIELDS[integration.system])
    body = IntegrationPatch(
        nightly_sync=nightly_sync,
        nightly_hour=nightly_hour,
        failure_brake_after=failure_brake_after,
        nightly_reconciliation_days=nightly_reconciliation_days,
        settings=typed or None,
    )
    try:
        await actions.update(db, settings, box, integration, body)
    except (ConnectionFailed, InvalidSettings) as exc:
        entered = {
            **typed,
            "nightly_sync": nightly_sync,
            "nightly_hour": nightly_hour,
            "failure_brake_after": failure_brake_after,
            "nightly_reconciliation_days": nightly_reconciliation_days,
        }
        return await _refused_view(request, viewer, db, integration_id, exc, "edit", entered)
    return _redirect(request, _back(integration))


@router.post("/integrations/{integration_id}/deactivate", response_class=HTMLResponse)
async def deactivate(
    request: Request,
    integration_id: uuid.UUID,
    viewer: AdminFormDep,
    db: SessionDep,
    from_date: Annotated[date, Form()],
) -> Response:
    """As ``POST /v1/integrations/{id}/deactivate``."""
    integration = await _integration(db, viewer, integration_id)
    await actions.deactivate(db, integration, from_date)
    return _redirect(request, _back(integration))


@router.post("/integrations/{integration_id}/relink", response_class=HTMLResponse)
async def relink(
    request: Request,
    integration_id: uuid.UUID,
    viewer: AdminFormDep,
    db: SessionDep,
    settings: SettingsDep,
    box: BoxDep,
) -> Response:
    """As ``POST /v1/integrations/{id}/relink``: the same book, or another one typed in;
    customer links are kept."""
    integration = await _integration(db, viewer, integration_id)
    system = integration.system
    typed = await _typed(request, BOOK_FIELDS[system] + EDIT_FIELDS[system])
    typed.pop("access_key", None)  # relink keeps the stored credentials
    try:
        await actions.relink(db, settings, box, integration, typed or None)
    except (ConnectionFailed, InvalidSettings) as exc:
        return await _refused_view(request, viewer, db, integration_id, exc, "relink", typed)
    return _redirect(request, _back(integration))


@router.get("/integrations/{integration_id}/repair", response_class=HTMLResponse)
async def repair_confirmation(
    request: Request,
    integration_id: uuid.UUID,
    viewer: ViewerDep,
    db: SessionDep,
    from_date: date | None = None,
    return_to: str | None = None,
) -> Response:
    """What the repair will do, before it is done: the date it starts from, the
    documents it sends again, the three steps. Back and Cancel lead to ``return_to``
    (e.g. the inbox the repair was chosen in) when it is a console page, else to the
    integration."""
    _need_admin(viewer)
    integration = await _integration(db, viewer, integration_id)
    client = await clients.get_client(db, integration.client_id, viewer.caller.partner_id)
    name = system_names(await integrations.list_for_client(db, client.id), viewer.t.gettext)
    plan = await actions.repair_plan(db, integration, from_date)
    return _page(
        request,
        "repair.html",
        viewer.t,
        viewer=viewer,
        unread=await repository.count_unread(db, viewer.caller.partner_id),
        client=client,
        integration=integration,
        name=name[integration.id],
        plan=plan,
        return_to=console_path(return_to),
    )


@router.post("/integrations/{integration_id}/repair", response_class=HTMLResponse)
async def repair(
    request: Request,
    integration_id: uuid.UUID,
    viewer: AdminFormDep,
    db: SessionDep,
    settings: SettingsDep,
    box: BoxDep,
    from_date: Annotated[date, Form()],
) -> Response:
    """As ``POST /v1/integrations/{id}/repair`` from the confirmed date; then the run's
    live progress."""
    integration = await _integration(db, viewer, integration_id)
    done = await actions.repair(db, settings, box, integration, from_date, viewer.caller.partner_id)
    return _redirect(request, f"/console/sync-runs/{done.run.id}")
