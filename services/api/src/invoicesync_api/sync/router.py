"""/v1/sync-runs: start a manual run and follow its progress."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body

from invoicesync_api.clients.router import ClientFilterDep
from invoicesync_api.deps import CallerDep, LanguageDep, NeedsRead, NeedsWrite, SessionDep
from invoicesync_api.examples import sync as examples
from invoicesync_api.examples.media import response_examples
from invoicesync_api.sync import repository, service
from invoicesync_api.sync.schemas import SyncRunIn, SyncRunOut

router = APIRouter(prefix="/v1/sync-runs", tags=["sync runs"])

NewRun = Annotated[SyncRunIn, Body(openapi_examples=examples.RUN_BODIES)]


@router.post(
    "",
    dependencies=[NeedsWrite],
    status_code=202,
    response_model=SyncRunOut,
    responses={202: response_examples(examples.RUN_ACCEPTED)},
)
async def start_run(
    body: NewRun, session: SessionDep, caller: CallerDep, language: LanguageDep
) -> SyncRunOut:
    """Send documents now: a client's, one integration's, or the chosen ``document_ids``
    (also the bulk retry). 409 while a run is going for one of the integrations."""
    run = await service.start(session, body, caller.partner_id)
    await repository.save_run(session, run)
    return service.run_out(run, language)


@router.get("", dependencies=[NeedsRead], response_model=list[SyncRunOut])
async def list_runs(
    session: SessionDep, caller: CallerDep, client_id: ClientFilterDep, language: LanguageDep
) -> list[SyncRunOut]:
    runs = await repository.list_runs(session, caller.partner_id, client_id)
    return [service.run_out(r, language) for r in runs]


@router.get(
    "/{run_id}",
    dependencies=[NeedsRead],
    response_model=SyncRunOut,
    responses={200: response_examples(examples.RUN_PROGRESS)},
)
async def read_run(
    run_id: uuid.UUID, session: SessionDep, caller: CallerDep, language: LanguageDep
) -> SyncRunOut:
    run = await repository.get_run(session, run_id, caller.partner_id)
    return service.run_out(run, language)
