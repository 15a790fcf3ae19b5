"""The calling partner's API keys: create (secret shown once), list, rotate, revoke. Every
route needs the admin scope."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Response

from invoicesync_api.api_keys import repository, service
from invoicesync_api.api_keys.schemas import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    ApiKeyRotated,
    RotateIn,
)
from invoicesync_api.db.models import ApiKey
from invoicesync_api.deps import CallerDep, NeedsAdmin, SessionDep
from invoicesync_api.examples import api_keys as examples
from invoicesync_api.examples.media import response_examples
from invoicesync_shared import clock

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"], dependencies=[NeedsAdmin])


def key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut.model_validate(key, from_attributes=True)


def _created(key: ApiKey, secret: str) -> ApiKeyCreated:
    return ApiKeyCreated(**key_out(key).model_dump(), api_key=secret)


@router.post("", status_code=201, response_model=ApiKeyCreated)
async def create_key(body: ApiKeyIn, session: SessionDep, caller: CallerDep) -> ApiKeyCreated:
    """A new key with the given scopes; the answer's ``api_key`` is shown only this once."""
    key, secret = service.issue_key(session, caller.partner_id, body.name, body.scopes)
    await repository.save_key(session, key)
    return _created(key, secret)


@router.get("", response_model=list[ApiKeyOut], responses={200: response_examples(examples.KEYS)})
async def list_keys(session: SessionDep, caller: CallerDep) -> list[ApiKeyOut]:
    """The usable keys (revoked and expired ones are left out), oldest first; no secrets."""
    keys = await repository.list_usable_keys(session, caller.partner_id, clock.now())
    return [key_out(k) for k in keys]


@router.post(
    "/{key_id}/rotate",
    status_code=201,
    response_model=ApiKeyRotated,
    responses={201: response_examples(examples.ROTATED_EXAMPLES)},
)
async def rotate_key(
    key_id: uuid.UUID,
    session: SessionDep,
    caller: CallerDep,
    body: Annotated[RotateIn, Body(default_factory=RotateIn)],
) -> ApiKeyRotated:
    """A successor with the same name and scopes, shown once; the old key keeps working
    for ``overlap_seconds`` (a day by default), so callers can switch without a gap."""
    now = clock.now()
    await repository.lock_partner(session, caller.partner_id)
    key = await repository.get_usable_key(session, key_id, caller.partner_id, now)
    overlap = timedelta(seconds=body.overlap_seconds)
    successor, secret = await service.rotate_key(session, key, overlap, now)
    await repository.save_key(session, successor)
    return ApiKeyRotated(**_created(successor, secret).model_dump(), previous=key_out(key))


@router.delete("/{key_id}", status_code=204)
async def revoke_key(key_id: uuid.UUID, session: SessionDep, caller: CallerDep) -> Response:
    """Revoke the key at once (the calling key too). The last lasting key with the admin
    scope is refused with 409, so a partner cannot lock itself out."""
    now = clock.now()
    await repository.lock_partner(session, caller.partner_id)
    key = await repository.get_usable_key(session, key_id, caller.partner_id, now)
    await service.revoke_key(session, key, now)
    return Response(status_code=204)
