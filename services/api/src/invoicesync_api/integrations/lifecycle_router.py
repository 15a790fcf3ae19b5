"""Integration lifecycle endpoints: deactivate, relink, repair, and read back now."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from invoicesync_api.deps import (
    BoxDep,
    CallerDep,
    LanguageDep,
    NeedsAdmin,
    NeedsWrite,
    SessionDep,
    SettingsDep,
)
from invoicesync_api.errors.exceptions import Conflict, Unavailable, Unprocessable
from invoicesync_api.errors.openapi import CONNECTION_PROBLEM_RESPONSES, CONNECTOR_PROBLEM_RESPONSES
from invoicesync_api.examples import integrations as examples
from invoicesync_api.i18n.catalog import N_
from invoicesync_api.integrations import actions, brake, repository, service
from invoicesync_api.integrations.refresh import READS_BACK, refresh
from invoicesync_api.integrations.schemas import IntegrationOut
from invoicesync_api.schemas import Strict
from invoicesync_api.sync import service as runs
from invoicesync_api.sync.schemas import SyncRunOut
from invoicesync_shared.states import IntegrationStatus

router = APIRouter(prefix="/v1/integrations", tags=["integrations"])


class DeactivateIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.DEACTIVATE_IN]})

    from_date: date = Field(description="Documents dated on or after it lose their sync state.")


class DeactivateOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.DEACTIVATED]})

    integration: IntegrationOut
    documents_reset: int


class RelinkIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [examples.RELINK_SAME, examples.RELINK_NEW_JOURNALS]}
    )

    settings: dict[str, Any] | None = Field(
        default=None,
        description="Only the settings to change (merged into the stored ones); omitted: the "
        "same settings.",
    )


class RepairIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [examples.REPAIR_DEFAULT, examples.REPAIR_FROM]}
    )

    from_date: date | None = Field(default=None, description="Default: the first affected date.")


class RepairOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.REPAIRED]})

    from_date: date
    documents_reset: int
    integration: IntegrationOut
    sync_run: SyncRunOut
    steps: list[str]


class ResumeOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.RESUMED]})

    integration: IntegrationOut
    documents_requested: int = Field(
        description="Documents that waited while it was paused, asked for now, oldest first."
    )


class RefreshOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.REFRESHED]})

    integration_id: uuid.UUID
    results_emitted: int = Field(
        description="Changes found (booking numbers of finalised drafts, payment statuses, "
        "entries deleted remotely); the documents show them a moment later."
    )


@router.post(
    "/{integration_id}/refresh",
    dependencies=[NeedsWrite],
    response_model=RefreshOut,
    responses=CONNECTOR_PROBLEM_RESPONSES,
)
async def refresh_now(
    integration_id: uuid.UUID, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> RefreshOut:
    """Read back now what changed in the accounting system, instead of at the next round
    (Exact: nightly; Lexware: every minute, and at once when Lexware calls back; Yuki:
    hourly): payment status, numbers of drafts finalised in Lexware Office, entries
    deleted in Exact."""
    integration = await repository.get_integration(session, integration_id, caller.partner_id)
    if integration.system not in READS_BACK:
        raise Unprocessable(
            N_("{system} has nothing to read back."), params={"system": integration.system}
        )
    if integration.status != IntegrationStatus.ACTIVE:
        raise Conflict(
            N_("The integration is not active (status {status})."),
            params={"status": integration.status},
        )
    outcome = await refresh(settings, integration.system, integration.id)
    if outcome.code == "connector_unavailable":
        raise Unavailable(
            N_("The {system} connector could not be reached; try again later."),
            params={"system": integration.system},
        )
    if not outcome.ok:
        raise Conflict(N_("A read-back of this integration is running; try again in a moment."))
    return RefreshOut(integration_id=integration.id, results_emitted=outcome.results_emitted)


@router.post(
    "/{integration_id}/resume",
    dependencies=[NeedsAdmin],
    response_model=ResumeOut,
)
async def resume(integration_id: uuid.UUID, session: SessionDep, caller: CallerDep) -> ResumeOut:
    """Send again after the failure brake paused the integration (status `paused`, see
    its `paused_cause`): fix the cause in the accounting system first. The documents that
    waited are sent now, in the order they came, each once; the refused ones stay failed
    until retried. 409 when the integration is not paused."""
    integration = await repository.get_integration(session, integration_id, caller.partner_id)
    requested = await brake.resume(session, integration)
    return ResumeOut(
        integration=service.integration_out(integration), documents_requested=requested
    )


@router.post(
    "/{integration_id}/deactivate", dependencies=[NeedsAdmin], response_model=DeactivateOut
)
async def deactivate(
    integration_id: uuid.UUID,
    body: DeactivateIn,
    session: SessionDep,
    caller: CallerDep,
    language: LanguageDep,
) -> DeactivateOut:
    integration = await repository.get_integration(session, integration_id, caller.partner_id)
    reset = await actions.deactivate(session, integration, body.from_date)
    return DeactivateOut(
        integration=service.integration_out(integration, language=language), documents_reset=reset
    )


@router.post(
    "/{integration_id}/relink",
    dependencies=[NeedsAdmin],
    response_model=IntegrationOut,
    responses=CONNECTION_PROBLEM_RESPONSES,
)
async def relink(
    integration_id: uuid.UUID,
    body: RelinkIn,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    box: BoxDep,
    language: LanguageDep,
) -> IntegrationOut:
    """Link again (same or new settings) keeping customer links: nothing is re-imported."""
    integration = await repository.get_integration(session, integration_id, caller.partner_id)
    await actions.relink(session, settings, box, integration, body.settings)
    return service.integration_out(integration, language=language)


@router.post(
    "/{integration_id}/repair",
    dependencies=[NeedsAdmin],
    response_model=RepairOut,
    responses=CONNECTION_PROBLEM_RESPONSES,
)
async def repair(
    integration_id: uuid.UUID,
    body: RepairIn,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    box: BoxDep,
    language: LanguageDep,
) -> RepairOut:
    """The 14-step manual repair in one call: deactivate from the first affected date,
    relink with the same settings (customer links kept), and resync from that date.
    All or nothing (``actions.repair``)."""
    integration = await repository.get_integration(session, integration_id, caller.partner_id)
    done = await actions.repair(
        session, settings, box, integration, body.from_date, caller.partner_id
    )
    from_date, reset, run = done.from_date, done.documents_reset, done.run
    return RepairOut(
        from_date=from_date,
        documents_reset=reset,
        integration=service.integration_out(integration, language=language),
        sync_run=runs.run_out(run),
        steps=[
            f"deactivated from {from_date.isoformat()}: {reset} documents reset",
            "relinked with the same settings; customer links kept",
            f"sync run {run.id} started for {run.documents_total} documents",
        ],
    )
