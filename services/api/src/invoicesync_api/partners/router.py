"""Admin provisioning of partners and their API keys (a key is shown once)."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update

from invoicesync_api.db.models import ApiKey, Partner
from invoicesync_api.deps import AdminDep, SessionDep, hash_key
from invoicesync_api.errors.exceptions import NotFound
from invoicesync_api.examples import partners as examples
from invoicesync_api.examples.media import response_examples
from invoicesync_api.schemas import Strict

router = APIRouter(prefix="/admin/v1", tags=["admin"], dependencies=[AdminDep])


class PartnerIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PARTNER_IN]})

    name: str = Field(min_length=1, max_length=200)


class PartnerOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PARTNER_CREATED]})

    id: uuid.UUID
    name: str
    api_key: str | None = Field(default=None, description="Shown once, at creation or rotation.")


def new_api_key() -> str:
    return "isk_" + secrets.token_urlsafe(32)


async def _issue_key(session: SessionDep, partner_id: uuid.UUID) -> str:
    key = new_api_key()
    session.add(ApiKey(partner_id=partner_id, key_hash=hash_key(key), prefix=key[:10]))
    return key


@router.post("/partners", status_code=201, response_model=PartnerOut)
async def create_partner(body: PartnerIn, session: SessionDep) -> PartnerOut:
    partner = Partner(name=body.name)
    session.add(partner)
    await session.flush()
    return PartnerOut(
        id=partner.id, name=partner.name, api_key=await _issue_key(session, partner.id)
    )


@router.get(
    "/partners",
    response_model=list[PartnerOut],
    responses={200: response_examples(examples.PARTNERS)},
)
async def list_partners(session: SessionDep) -> list[PartnerOut]:
    partners = await session.scalars(select(Partner).order_by(Partner.created_at))
    return [PartnerOut(id=p.id, name=p.name) for p in partners]


@router.post("/partners/{partner_id}/api-keys", status_code=201, response_model=PartnerOut)
async def rotate_key(
    partner_id: uuid.UUID, session: SessionDep, revoke_existing: bool = True
) -> PartnerOut:
    """A new key; the old ones are revoked unless ``revoke_existing=false`` (overlap)."""
    partner = await session.get(Partner, partner_id)
    if partner is None:
        raise NotFound("No such partner.")
    if revoke_existing:
        await _revoke_all(session, partner_id)
    return PartnerOut(
        id=partner.id, name=partner.name, api_key=await _issue_key(session, partner.id)
    )


@router.delete("/partners/{partner_id}/api-keys", status_code=204)
async def revoke_keys(partner_id: uuid.UUID, session: SessionDep) -> None:
    if await session.get(Partner, partner_id) is None:
        raise NotFound("No such partner.")
    await _revoke_all(session, partner_id)


async def _revoke_all(session: SessionDep, partner_id: uuid.UUID) -> None:
    await session.execute(
        update(ApiKey)
        .where(ApiKey.partner_id == partner_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
