"""Admin provisioning of partners and their API keys (a key is shown once)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from invoicesync_api.api_keys import service as api_keys
from invoicesync_api.api_keys.scopes import ALL_SCOPES
from invoicesync_api.deps import AdminDep, SessionDep
from invoicesync_api.examples import partners as examples
from invoicesync_api.examples.media import response_examples
from invoicesync_api.partners import repository
from invoicesync_api.schemas import Strict
from invoicesync_shared import clock

router = APIRouter(prefix="/admin/v1", tags=["admin"], dependencies=[AdminDep])


class PartnerIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PARTNER_IN]})

    name: str = Field(min_length=1, max_length=200)


class PartnerOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PARTNER_CREATED]})

    id: uuid.UUID
    name: str
    api_key: str | None = Field(default=None, description="Shown once, at creation or rotation.")


def _issue_key(session: SessionDep, partner_id: uuid.UUID, name: str) -> str:
    """A key with every scope (admin included): the partner makes narrower ones itself
    with POST /v1/api-keys."""
    _, secret = api_keys.issue_key(session, partner_id, name, ALL_SCOPES)
    return secret


@router.post("/partners", status_code=201, response_model=PartnerOut)
async def create_partner(body: PartnerIn, session: SessionDep) -> PartnerOut:
    partner = await repository.add_partner(session, body.name)
    key = _issue_key(session, partner.id, "Initial key")
    return PartnerOut(id=partner.id, name=partner.name, api_key=key)


@router.get(
    "/partners",
    response_model=list[PartnerOut],
    responses={200: response_examples(examples.PARTNERS)},
)
async def list_partners(session: SessionDep) -> list[PartnerOut]:
    partners = await repository.list_partners(session)
    return [PartnerOut(id=p.id, name=p.name) for p in partners]


@router.post("/partners/{partner_id}/api-keys", status_code=201, response_model=PartnerOut)
async def rotate_key(
    partner_id: uuid.UUID, session: SessionDep, revoke_existing: bool = True
) -> PartnerOut:
    """A new key; the old ones are revoked unless ``revoke_existing=false`` (overlap)."""
    partner = await repository.get_partner(session, partner_id)
    if revoke_existing:
        await repository.revoke_api_keys(session, partner_id, clock.now())
    key = _issue_key(session, partner.id, "Issued by the platform admin")
    return PartnerOut(id=partner.id, name=partner.name, api_key=key)


@router.delete("/partners/{partner_id}/api-keys", status_code=204)
async def revoke_keys(partner_id: uuid.UUID, session: SessionDep) -> None:
    await repository.get_partner(session, partner_id)
    await repository.revoke_api_keys(session, partner_id, clock.now())
