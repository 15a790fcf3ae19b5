"""Queries over a partner's clients."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api import pagination
from invoicesync_api.db.models import Client
from invoicesync_api.db.owned import get_owned


async def get_client(session: AsyncSession, client_id: uuid.UUID, partner_id: uuid.UUID) -> Client:
    return await get_owned(session, Client, client_id, partner_id, "client")


async def find_client(session: AsyncSession, client_id: uuid.UUID) -> Client | None:
    """The client by id, whoever owns it: for the system's own work, not a caller's read."""
    return await session.get(Client, client_id)


async def add_client(session: AsyncSession, client: Client) -> Client:
    """Store a new client and read back what the database filled in (id, created_at)."""
    session.add(client)
    return await save_client(session, client)


async def save_client(session: AsyncSession, client: Client) -> Client:
    """Write the client's changes now and read the stored row back."""
    await session.flush()
    await session.refresh(client)
    return client


async def list_clients(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    name_contains: str | None = None,
) -> tuple[Sequence[Client], str | None]:
    """Newest first, keyset-paginated on (created_at, id) so pages never shift;
    ``name_contains`` (the console's search) matches any part of the name, any case."""
    query = select(Client).where(Client.partner_id == partner_id)
    if name_contains:
        query = query.where(Client.name.icontains(name_contains, autoescape=True))
    return await pagination.newest_first(
        session,
        query,
        created_at=Client.created_at,
        ident=Client.id,
        limit=limit,
        cursor=cursor,
    )
