"""Integration endpoints, including the OAuth callback the accounting systems redirect to."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Request

from invoicesync_api.clients.router import ClientDep
from invoicesync_api.deps import (
    CallerDep,
    LanguageDep,
    NeedsAdmin,
    NeedsRead,
    SessionDep,
    SettingsDep,
)
from invoicesync_api.errors.exceptions import ConnectionFailed, Unprocessable
from invoicesync_api.errors.openapi import CONNECTION_PROBLEM_RESPONSES
from invoicesync_api.examples import integrations as examples
from invoicesync_api.examples.media import response_examples
from invoicesync_api.health import DependencyHealth
from invoicesync_api.i18n.catalog import N_
from invoicesync_api.i18n.middleware import language_of
from invoicesync_api.integrations import connection, oauth, repository, service
from invoicesync_api.integrations.schemas import (
    IntegrationHealth,
    IntegrationIn,
    IntegrationOut,
    IntegrationPatch,
)
from invoicesync_api.integrations.verification import verify
from invoicesync_api.sync import announce
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.states import IntegrationStatus

router = APIRouter(tags=["integrations"])

# Named examples, one per system: the settings differ entirely.
NewIntegration = Annotated[IntegrationIn, Body(openapi_examples=examples.CREATE_BODIES)]


def _box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.box
    return box


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
    request: Request,
    language: LanguageDep,
) -> IntegrationOut:
    """OAuth systems answer ``pending_authorization`` with an ``authorize_url``; Yuki is
    checked at once and answers ``active`` or 422."""
    integration, state = service.new_integration(client, body, _box(request))
    repository.add_integration(session, integration)
    if state is not None:
        await repository.save_integration(session, integration)
        url = oauth.authorize_url(settings, integration.system, state)
        return service.integration_out(integration, authorize_url=url, language=language)
    # Committed first, so the connector can read the stored access key while verifying.
    await session.commit()
    system = integration.system
    verdict = await verify(settings, system, integration.id)
    if not verdict.ok:
        await repository.delete_integration(session, integration)
        await session.commit()
        raise ConnectionFailed(
            verdict.message or "The settings were refused.",
            system=system,
            reason_params=verdict.params,
            extra={"reason": verdict.code},
        )
    await service.apply_verdict(session, integration, verdict)
    await announce.integration_status(session, integration)
    await repository.save_integration(session, integration)
    return service.integration_out(integration, language=language)


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
    request: Request,
    language: LanguageDep,
) -> IntegrationOut:
    """Nightly sync and settings. Changed settings are checked with the accounting system
    first: refused ones answer 422 with the reason and leave the integration as it was."""
    integration = await repository.get_integration(session, integration_id, caller.partner_id)
    if body.nightly_sync is not None:
        integration.nightly_sync = body.nightly_sync
    if body.nightly_hour is not None:
        integration.nightly_hour = body.nightly_hour
    if body.failure_brake_after is not None:
        integration.failure_brake_after = body.failure_brake_after

    if body.nightly_reconciliation_days is not None:
        integration.nightly_reconciliation_days = body.nightly_reconciliation_days
    before = (integration.settings, integration.credentials)
    changed = body.settings is not None and service.changed_settings(
        integration, body.settings, _box(request)
    )
    await session.commit()  # the connector reads the settings while verifying
    checked = (IntegrationStatus.ACTIVE, IntegrationStatus.PAUSED, *connection.BROKEN)
    if changed and integration.credentials is not None and integration.status in checked:
        verdict = await verify(settings, integration.system, integration.id)
        if not verdict.ok:
            integration.settings, integration.credentials = before
            await session.commit()
            raise ConnectionFailed(
                verdict.message or "The settings were refused.",
                system=integration.system,
                reason_params=verdict.params,
                extra={"reason": verdict.code},
            )
        reconnected = integration.status in connection.BROKEN
        if integration.status == IntegrationStatus.PAUSED:
            return service.integration_out(integration)  # checked; sending waits for resume
        await service.apply_verdict(session, integration, verdict)
        if reconnected:  # e.g. Yuki's new access key after the old one was refused
            await connection.resume(session, integration)
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
    request: Request,
    state: str,
    code: str | None = None,
    error: str | None = None,
) -> IntegrationOut:
    """Where Exact and Lexware send the user back after "allow access"."""
    integration = await repository.find_by_state_hash(session, oauth.state_hash(state))
    if integration is None:
        raise Unprocessable(N_("Unknown or already used OAuth state; start the connection again."))
    integration.oauth_state_hash = None  # single-use
    if error or not code:
        integration.status = IntegrationStatus.ERROR
        service.set_reason(integration, "access_not_granted", {"error": error or "no code"})
        return service.integration_out(integration, language=language_of(request.scope))
    credentials, token_columns = await oauth.exchange_code(settings, integration.system, code)
    integration.credentials = _box(request).encrypt_json(credentials)
    for column, value in token_columns.items():
        setattr(integration, column, value)
    reconnected = integration.status in connection.BROKEN
    await session.commit()  # the connector reads the tokens while verifying
    verdict = await verify(settings, integration.system, integration.id)
    await service.apply_verdict(session, integration, verdict)
    if reconnected and integration.status == IntegrationStatus.ACTIVE:
        await connection.resume(session, integration)
    else:
        await announce.integration_status(session, integration)
    await session.flush()
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
