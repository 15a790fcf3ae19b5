"""What a preview reads: the client (its company data) and the integrations that would book
a document created now. Read only, on one short autocommitted connection."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from invoicesync_api.db.models import Client
from invoicesync_api.documents import fanout
from invoicesync_shared.db.models import Integration


async def client_and_integrations(
    connection: AsyncConnection, client_id: uuid.UUID, now: datetime
) -> tuple[Client | None, Sequence[Integration]]:
    async with AsyncSession(bind=connection, expire_on_commit=False) as session:
        client = await session.get(Client, client_id)
        integrations = (
            await session.scalars(
                select(Integration)
                .where(Integration.client_id == client_id, fanout.takes_part(now))
                .order_by(Integration.created_at, Integration.id)
            )
        ).all()
        return client, integrations
