"""Integration endpoints, including the OAuth callback the accounting systems redirect to."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Request
from fastapi.responses import RedirectResponse

from invoicesync_api.clients.router import ClientDep
from invoicesync_api.deps import (
    BoxDep,
    CallerDep,
    LanguageDep,
    NeedsAdmin,
    NeedsRead,
    SessionDep,
    SettingsDep,
)
from invoicesync_api.errors.exceptions import Unprocessable
from invoicesync_api.errors.openapi import CONNECTION_PROBLEM_RESPONSES
from invoicesync_api.examples import integrations as examples
from invoicesync_api.examples.media import response_examples
from invoicesync_api.health import DependencyHealth
from invoicesync_api.i18n.catalog import N_
from invoicesync_api.i18n.middleware import language_of
from invoicesync_api.integrations import actions, oauth, repository, service
from invoicesync_api.integrations.schemas import (
    IntegrationHealth,
    IntegrationIn,
    IntegrationOut,
    IntegrationPatch,
)
from invoicesync_api.integrations.verification import verify
from invoicesync_api.sync import announce

router = APIRouter(tags=["integrations"])

# Named examples, one per system: the settings differ entirely.
NewIntegration = Annotated[IntegrationIn, Body(openapi_examples=examples.CREATE_BODIES)]


@router.post(
    "/v1/clients/{client_id}/integrations",
    dependencies=[NeedsAdmin],
    status_code=201,
    response_model=IntegrationOut,
    responses={201: response_examples(examples.CREATED), **CONNECTION_PROBLEM_RESPONSES},
)
async def create_integration(
    body: NewIntegration,
    client: ClientDep,
    session: SessionDep,
    settings: SettingsDep,
    box: BoxDep,
    language: LanguageDep,
) -> IntegrationOut:
    """OAuth systems answer ``pending_authorization`` with an ``authorize_url``; Yuki is
    checked at once and answers ``active`` or 422."""
    integration, url = await actions.connect(session, settings, box, client, body)
    return service.integration_out(integration, authorize_url=url, language=language)


@router.get(
    "/v1/clients/{client_id}/integrations",
    dependencies=[NeedsRead],
    response_model=list[IntegrationOut],
    responses={200: response_examples(examples.LISTED)},
)
async def list_integrations(
    client: ClientDep, session: SessionDep, language: LanguageDep
) -> list[IntegrationOut]:
    rows = await repository.list_for_client(session, client.id)
    return [service.integration_out(i, language=language) for i in rows]


@router.get(
    "/v1/integrations/{integration_id}", dependencies=[NeedsRead], response_model=IntegrationOut
)
async def read_integration(
    integration_id: uuid.UUID,
    session: SessionDep,
    caller: CallerDep,
    request: Request,
    language: LanguageDep,
) -> IntegrationOut:
    integration = await repository.get_integration(session, integration_id, caller.partner_id)
    counts = await repository.status_counts(session, integration.id)
    health: DependencyHealth = request.app.state.health
    state = IntegrationHealth(
        connector=await health.connector(integration.system), broker=health.broker()
    )
    waiting = await repository.soonest_wait(session, integration.id)
    return service.integration_out(
        integration, counts=counts, health=state, waiting=waiting, language=language
    )


@router.patch(
    "/v1/integrations/{integration_id}",
    dependencies=[NeedsAdmin],
    response_model=IntegrationOut,
    responses={200: response_examples(examples.PATCHED), **CONNECTION_PROBLEM_RESPONSES},
)
async def update_integration(
    integration_id: uuid.UUID,
    body: IntegrationPatch,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    box: BoxDep,
    language: LanguageDep,
) -> IntegrationOut:
    """Nightly sync and settings. Changed settings are checked with the accounting system
    first: refused ones answer 422 with the reason and leave the integration as it was."""
    integration = await repository.get_integration(session, integration_id, caller.partner_id)
    await actions.update(session, settings, box, integration, body)
    return service.integration_out(integration, language=language)


@router.post(
    "/v1/integrations/{integration_id}/verify",
    dependencies=[NeedsAdmin],
    response_model=IntegrationOut,
)
async def reverify(
    integration_id: uuid.UUID,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    language: LanguageDep,
) -> IntegrationOut:
    """Check the connection again (after fixing settings in the accounting system)."""
    integration = await repository.get_integration(session, integration_id, caller.partner_id)
    if integration.credentials is None:
        raise Unprocessable(N_("The integration has not been authorised yet."))
    verdict = await verify(settings, integration.system, integration.id)
    await service.apply_verdict(session, integration, verdict)
    await announce.integration_status(session, integration)
    return service.integration_out(integration, language=language)


@router.get(
    "/v1/oauth/callback",
    response_model=IntegrationOut,
    responses={200: response_examples(examples.AUTHORIZED)},
)
async def oauth_callback(
    session: SessionDep,
    settings: SettingsDep,
    box: BoxDep,
    request: Request,
    state: str,
    code: str | None = None,
    error: str | None = None,
) -> IntegrationOut | RedirectResponse:
    """Where Exact and Lexware send the user back after "allow access". A connection
    started in the console leads the browser back to the client's integrations there."""
    integration = await actions.authorise(session, settings, box, state, code, error)
    if oauth.from_console(state):
        return RedirectResponse(
            f"/console/clients/{integration.client_id}/integrations?authorised={integration.id}",
            status_code=303,
        )
    # The user's browser comes back here (no API key): its Accept-Language.
    return service.integration_out(integration, language=language_of(request.scope))


@router.post(
    "/v1/integrations/{integration_id}/reconnect",
    dependencies=[NeedsAdmin],
    response_model=IntegrationOut,
    responses={200: response_examples(examples.RECONNECTING)},
)
async def reconnect(
    integration_id: uuid.UUID,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    language: LanguageDep,
) -> IntegrationOut:
    """Allow access again (Exact, Lexware): the answer's ``authorize_url`` leads through
    the system's consent; back at the callback the same integration is active again,
    settings and customer links kept, and its waiting documents are sent. Yuki takes a
    new access key with PATCH instead."""
    integration = await repository.get_integration(session, integration_id, caller.partner_id)
    url = service.begin_reconnect(integration, settings)
    return service.integration_out(integration, authorize_url=url, language=language)
