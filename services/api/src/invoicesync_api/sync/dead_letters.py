"""/v1/dead-letters: documents a connector gave up on after its retries, and their replay.

The dead-letter topics keep the original events for inspection; what is replayed is
read from the sync state here, which survives a broker that keeps topics in memory.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.clients.router import get_client
from invoicesync_api.db.models import Client, Document, DocumentSync
from invoicesync_api.deps import CallerDep, SessionDep
from invoicesync_api.documents.fanout import request_sync
from invoicesync_api.examples import sync as examples
from invoicesync_api.integrations.repository import get_integration
from invoicesync_api.schemas import Strict
from invoicesync_shared.db.models import Integration
from invoicesync_shared.states import FailureCode, IntegrationStatus, SyncStatus

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


async def _dead(
    session: AsyncSession, partner_id: uuid.UUID, body: ReplayIn
) -> list[tuple[DocumentSync, Document, Integration]]:
    query = (
        select(DocumentSync, Document, Integration)
        .join(Document, Document.id == DocumentSync.document_id)
        .join(Integration, Integration.id == DocumentSync.integration_id)
        .where(
            Document.partner_id == partner_id,
            DocumentSync.status.in_((SyncStatus.FAILED, SyncStatus.AMBIGUOUS)),
            DocumentSync.error_retryable.is_(True),
            # Entries that may be ours wait for a person's retry, not a bulk replay.
            DocumentSync.error_code.is_distinct_from(FailureCode.AMBIGUOUS_MATCH),
            Integration.status == IntegrationStatus.ACTIVE,
        )
        .order_by(Document.created_at)
        .limit(5000)
    )
    if body.integration_id:
        query = query.where(Integration.id == body.integration_id)
    if body.client_id:
        query = query.where(Document.client_id == body.client_id)
    return [(s, d, i) for s, d, i in await session.execute(query)]


@router.get("", response_model=list[DeadLetterOut])
async def list_dead_letters(session: SessionDep, caller: CallerDep) -> list[DeadLetterOut]:
    return [
        DeadLetterOut(
            document_id=d.id,
            number=d.number,
            integration_id=i.id,
            system=i.system,
            status=s.status,
            code=s.error_code,
            message=s.error_message,
        )
        for s, d, i in await _dead(session, caller.partner_id, ReplayIn())
    ]


@router.post("/replay", status_code=202, response_model=ReplayOut)
async def replay(body: ReplayIn, session: SessionDep, caller: CallerDep) -> ReplayOut:
    """Send again every document whose retries ran out (optionally one integration's or
    one client's); an unknown outcome is looked up before anything is sent. A foreign or
    unknown integration or client is 404."""
    if body.integration_id is not None:
        await get_integration(session, body.integration_id, caller.partner_id)
    if body.client_id is not None:
        await get_client(body.client_id, session, caller)
    by_document: defaultdict[Document, list[Integration]] = defaultdict(list)
    for _, document, integration in await _dead(session, caller.partner_id, body):
        by_document[document].append(integration)
    for document, integrations in by_document.items():
        client = await session.get(Client, document.client_id)
        assert client is not None
        await request_sync(session, document, client, integrations)
    return ReplayOut(
        documents=len(by_document), deliveries=sum(len(i) for i in by_document.values())
    )
