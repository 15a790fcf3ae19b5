"""/v1/partner: the calling partner's own settings — its default language.

The default language answers requests without ``Accept-Language`` (or with none we speak)
and writes the messages of its webhook payloads, which no request accompanies."""

from __future__ import annotations

import uuid
from typing import Any, Literal, cast

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from invoicesync_api.deps import CallerDep, NeedsAdmin, NeedsRead, SessionDep
from invoicesync_api.partners import repository
from invoicesync_api.schemas import Strict

router = APIRouter(prefix="/v1/partner", tags=["partner"])
Language = Literal["en", "de", "nl", "es", "fr"]
EXAMPLE: dict[str, Any] = {
    "id": "3f0c1d9e-7a52-4b8e-9c61-2d4f8a0b7e15",
    "name": "Acme Software",
    "language": "de",
}


class PartnerProfile(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    id: uuid.UUID
    name: str
    language: Language = Field(
        description="Default language of messages (problem details, sync errors, "
        "notifications, webhook payloads); `Accept-Language` overrides it per request."
    )


class PartnerPatch(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"language": "de"}]})

    language: Language


@router.get("", dependencies=[NeedsRead], response_model=PartnerProfile)
async def get_partner(session: SessionDep, caller: CallerDep) -> PartnerProfile:
    partner = await repository.get_partner(session, caller.partner_id)
    return PartnerProfile(
        id=partner.id, name=partner.name, language=cast(Language, partner.language or "en")
    )


@router.patch("", dependencies=[NeedsAdmin], response_model=PartnerProfile)
async def patch_partner(
    body: PartnerPatch, session: SessionDep, caller: CallerDep
) -> PartnerProfile:
    """Sets the default language; answers of later requests (and webhooks queued from
    now on) use it."""
    partner = await repository.get_partner(session, caller.partner_id)
    partner.language = body.language
    return PartnerProfile(id=partner.id, name=partner.name, language=body.language)
