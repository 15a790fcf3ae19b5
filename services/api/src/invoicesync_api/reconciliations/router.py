"""/v1/integrations/{id}/reconciliations: compare a period with the accounting system.

Starting one is ``write`` (it spends the integration's API budget, like a sync run);
reading it is ``read``. Applying it is ``write`` too: it carries out only the safe
actions, each one a call a ``write`` key may make itself (send a document again, which
is looked up before it is pushed; read back payments), never the repair that
deactivates an integration (``admin``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body

from invoicesync_api.deps import (
    CallerDep,
    LanguageDep,
    NeedsRead,
    NeedsWrite,
    SessionDep,
    SettingsDep,
)
from invoicesync_api.errors.exceptions import NotFound
from invoicesync_api.examples import reconciliations as examples
from invoicesync_api.examples.media import response_examples
from invoicesync_api.i18n import repair_reasons
from invoicesync_api.i18n.catalog import N_
from invoicesync_api.integrations import repository as integrations
from invoicesync_api.integrations.refresh import message_in, refresh
from invoicesync_api.reconciliations import apply, repository, service
from invoicesync_api.reconciliations.schemas import ApplyOut, ReconciliationIn, ReconciliationOut

router = APIRouter(prefix="/v1/integrations", tags=["reconciliations"])

NewReconciliation = Annotated[ReconciliationIn, Body(openapi_examples=examples.BODIES)]


@router.post(
    "/{integration_id}/reconciliations",
    dependencies=[NeedsWrite],
    status_code=202,
    response_model=ReconciliationOut,
    response_model_by_alias=True,
    responses={202: response_examples(examples.STARTED)},
)
async def start_reconciliation(
    integration_id: uuid.UUID, body: NewReconciliation, session: SessionDep, caller: CallerDep
) -> ReconciliationOut:
    """Compare our documents dated ``from``..``to`` with the integration's entries in the
    accounting system. Runs in the background: follow it with GET until ``status`` is
    ``finished`` (the report) or ``failed`` (``failure`` says why); a
    ``reconciliation.finished`` webhook goes out either way, and one notification when
    something differs. 409 while another runs for the integration."""
    reconciliation, integration = await service.start(
        session, integration_id, body, caller.partner_id
    )
    return service.to_out(reconciliation, integration.system)


@router.get(
    "/{integration_id}/reconciliations/{reconciliation_id}",
    dependencies=[NeedsRead],
    response_model=ReconciliationOut,
    response_model_by_alias=True,
    responses={200: response_examples(examples.PROGRESS)},
)
async def read_reconciliation(
    integration_id: uuid.UUID,
    reconciliation_id: uuid.UUID,
    session: SessionDep,
    caller: CallerDep,
    language: LanguageDep,
) -> ReconciliationOut:
    """Progress (entries read, calls used) while running; the report once finished."""
    integration = await integrations.get_integration(session, integration_id, caller.partner_id)
    reconciliation = await repository.get(session, reconciliation_id, caller.partner_id)
    if reconciliation.integration_id != integration.id:
        raise NotFound(N_("No such reconciliation."))
    return service.to_out(reconciliation, integration.system, language)


@router.post(
    "/{integration_id}/reconciliations/{reconciliation_id}/apply",
    dependencies=[NeedsWrite],
    response_model=ApplyOut,
    responses={200: response_examples(examples.APPLIED)},
)
async def apply_reconciliation(
    integration_id: uuid.UUID,
    reconciliation_id: uuid.UUID,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    language: LanguageDep,
) -> ApplyOut:
    """Carry out the repair plan's safe actions (``safe: true``): documents missing there
    are sent again and entries carrying our reference are adopted (the connector looks each
    up before it pushes), payment statuses are read back. The others are left for a
    person. Once per reconciliation (409 after); reconcile again to check."""
    integration = await integrations.get_integration(session, integration_id, caller.partner_id)
    reconciliation = await repository.get(session, reconciliation_id, caller.partner_id)
    if reconciliation.integration_id != integration.id:
        raise NotFound(N_("No such reconciliation."))
    await repository.lock(session, reconciliation.id)
    done, wants_refresh = await apply.apply(session, reconciliation, integration)
    await session.commit()
    read_back = None
    if wants_refresh:
        outcome = await refresh(settings, integration.system, integration.id)
        message = message_in(language, integration.system, outcome)
        read_back = {"ok": outcome.ok, "code": outcome.code, "message": message}
    left = [a for a in (reconciliation.report or {}).get("repair_plan", []) if not a["safe"]]
    return ApplyOut(
        reconciliation_id=reconciliation.id,
        applied=repair_reasons.actions(language, done),
        left_for_a_person=repair_reasons.actions(language, left),
        read_back=read_back,
    )
