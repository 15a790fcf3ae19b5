"""Clients: the businesses whose books a partner keeps."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from invoicesync_api.clients import repository
from invoicesync_api.db.models import Client
from invoicesync_api.deps import CallerDep, NeedsRead, NeedsWrite, SessionDep
from invoicesync_api.examples import partners as examples
from invoicesync_api.examples.media import response_examples
from invoicesync_api.schemas import AddressIn, CountryCode, Page, Strict

router = APIRouter(prefix="/v1/clients", tags=["clients"])


class ClientIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [examples.CLIENT_IN, examples.CLIENT_MINIMAL_IN]}
    )

    name: str = Field(min_length=1, max_length=200, examples=["Bakkerij De Vries B.V."])
    vat_number: str | None = Field(default=None, max_length=32, examples=["NL123456789B01"])
    company_number: str | None = Field(default=None, max_length=32, examples=["12345678"])
    address: AddressIn | None = None
    country: CountryCode | None = None
    email: EmailStr | None = None
    timezone: str = Field(default="Europe/Amsterdam", max_length=64)


class ClientPatch(Strict):
    """Only the fields sent change."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.CLIENT_PATCH]})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    vat_number: str | None = Field(default=None, max_length=32)
    company_number: str | None = Field(default=None, max_length=32)
    address: AddressIn | None = None
    country: CountryCode | None = None
    email: EmailStr | None = None
    timezone: str | None = Field(default=None, max_length=64)


class ClientOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [examples.CLIENT_OUT, examples.GERMAN_CLIENT_OUT]}
    )

    id: uuid.UUID
    name: str
    vat_number: str | None
    company_number: str | None
    address: AddressIn | None
    country: str | None
    email: str | None
    timezone: str
    created_at: datetime


async def get_client(client_id: uuid.UUID, session: SessionDep, caller: CallerDep) -> Client:
    """The caller's client or 404: a foreign id is indistinguishable from a missing one."""
    return await repository.get_client(session, client_id, caller.partner_id)


ClientDep = Annotated[Client, Depends(get_client)]


async def owned_client_filter(
    session: SessionDep,
    caller: CallerDep,
    client_id: Annotated[
        uuid.UUID | None, Query(description="Only this client's; a foreign or unknown id is 404.")
    ] = None,
) -> uuid.UUID | None:
    """A list's ``client_id`` filter: 404 for another partner's client, as on reads."""
    if client_id is not None:
        await get_client(client_id, session, caller)
    return client_id


ClientFilterDep = Annotated[uuid.UUID | None, Depends(owned_client_filter)]


def client_out(client: Client) -> ClientOut:
    return ClientOut.model_validate(client, from_attributes=True)


@router.post("", dependencies=[NeedsWrite], status_code=201, response_model=ClientOut)
async def create_client(body: ClientIn, session: SessionDep, caller: CallerDep) -> ClientOut:
    client = Client(partner_id=caller.partner_id, **body.model_dump(mode="json"))
    return client_out(await repository.add_client(session, client))


@router.get(
    "",
    dependencies=[NeedsRead],
    response_model=Page[ClientOut],
    responses={200: response_examples(examples.CLIENTS_PAGE)},
)
async def list_clients(
    session: SessionDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Page[ClientOut]:
    """Newest first, in pages like every list: follow ``next_cursor`` until it is null."""
    rows, next_cursor = await repository.list_clients(
        session, caller.partner_id, limit=limit, cursor=cursor
    )
    return Page[ClientOut](data=[client_out(c) for c in rows], next_cursor=next_cursor)


@router.get("/{client_id}", dependencies=[NeedsRead], response_model=ClientOut)
async def read_client(client: ClientDep) -> ClientOut:
    return client_out(client)


@router.patch("/{client_id}", dependencies=[NeedsWrite], response_model=ClientOut)
async def patch_client(body: ClientPatch, client: ClientDep, session: SessionDep) -> ClientOut:
    for field, value in body.model_dump(mode="json", exclude_unset=True).items():
        setattr(client, field, value)
    return client_out(await repository.save_client(session, client))
