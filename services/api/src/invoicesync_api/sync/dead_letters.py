"""/v1/dead-letters: documents a connector gave up on after its retries, and their replay.

The dead-letter topics keep the original events for inspection; what is replayed is
read from the sync state here, which survives a broker that keeps topics in memory.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from invoicesync_api.clients import repository as clients
from invoicesync_api.db.models import Document
from invoicesync_api.deps import CallerDep, LanguageDep, NeedsRead, NeedsWrite, SessionDep
from invoicesync_api.documents.fanout import request_sync
from invoicesync_api.examples import sync as examples
from invoicesync_api.i18n.sync_errors import sync_error_message
from invoicesync_api.integrations.repository import get_integration
from invoicesync_api.schemas import Strict
from invoicesync_api.sync import repository
from invoicesync_shared.db.models import Integration

router = APIRouter(prefix="/v1/dead-letters", tags=["dead letters"])


class DeadLetterOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.DEAD_LETTER]})

    document_id: uuid.UUID
    number: str
    integration_id: uuid.UUID
    system: str
    status: str
    code: str | None
    message: str | None


class ReplayIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [examples.REPLAY_ALL_IN, examples.REPLAY_ONE_INTEGRATION_IN]}
    )

    integration_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None


class ReplayOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.REPLAYED]})

    documents: int
    deliveries: int


@router.get("", dependencies=[NeedsRead], response_model=list[DeadLetterOut])
async def list_dead_letters(
    session: SessionDep, caller: CallerDep, language: LanguageDep
) -> list[DeadLetterOut]:
    return [
        DeadLetterOut(
            document_id=d.id,
            number=d.number,
            integration_id=i.id,
            system=i.system,
            status=s.status,
            code=s.error_code,
            message=sync_error_message(
                language, s.error_code, s.error_message, system=i.system, number=d.number
            ),
        )
        for s, d, i in await repository.list_dead_letters(session, caller.partner_id)
    ]


@router.post("/replay", dependencies=[NeedsWrite], status_code=202, response_model=ReplayOut)
async def replay(body: ReplayIn, session: SessionDep, caller: CallerDep) -> ReplayOut:
    """Send again every document whose retries ran out (optionally one integration's or
    one client's); an unknown outcome is looked up before anything is sent. A foreign or
    unknown integration or client is 404."""
    if body.integration_id is not None:
        await get_integration(session, body.integration_id, caller.partner_id)
    if body.client_id is not None:
        await clients.get_client(session, body.client_id, caller.partner_id)
    by_document: defaultdict[Document, list[Integration]] = defaultdict(list)
    for _, document, integration in await repository.list_dead_letters(
        session, caller.partner_id, integration_id=body.integration_id, client_id=body.client_id
    ):
        by_document[document].append(integration)
    for document, integrations in by_document.items():
        client = await clients.find_client(session, document.client_id)
        assert client is not None
        await request_sync(session, document, client, integrations)
    return ReplayOut(
        documents=len(by_document), deliveries=sum(len(i) for i in by_document.values())
    )
