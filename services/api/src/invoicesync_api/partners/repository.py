"""Queries over partners and their API keys."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from invoicesync_api.db.models import ApiKey, Partner
from invoicesync_api.errors.exceptions import NotFound

# Built once: compiled once and prepared once per connection (every request runs it).
_CALLER = select(ApiKey.__table__.c.partner_id).where(
    ApiKey.__table__.c.key_hash == bindparam("key_hash"), ApiKey.__table__.c.revoked_at.is_(None)
)


async def find_partner_id_by_key(connection: AsyncConnection, key_hash: str) -> uuid.UUID | None:
    """The partner holding the unrevoked key with this hash, or None. Takes a connection,
    not a session: the caller is found outside the request's transaction."""
    partner_id: uuid.UUID | None = await connection.scalar(_CALLER, {"key_hash": key_hash})
    return partner_id


async def add_partner(session: AsyncSession, name: str) -> Partner:
    """A new partner, flushed so its id is known."""
    partner = Partner(name=name)
    session.add(partner)
    await session.flush()
    return partner


async def list_partners(session: AsyncSession) -> Sequence[Partner]:
    return (await session.scalars(select(Partner).order_by(Partner.created_at))).all()


async def get_partner(session: AsyncSession, partner_id: uuid.UUID) -> Partner:
    """The partner; raises ``NotFound``."""
    partner = await session.get(Partner, partner_id)
    if partner is None:
        raise NotFound("No such partner.")
    return partner


def add_api_key(session: AsyncSession, partner_id: uuid.UUID, key_hash: str, prefix: str) -> None:
    """Store a key by its hash; the key itself is never kept."""
    session.add(ApiKey(partner_id=partner_id, key_hash=key_hash, prefix=prefix))


async def revoke_api_keys(session: AsyncSession, partner_id: uuid.UUID, now: datetime) -> None:
    """Revoke every key of the partner not revoked yet."""
    await session.execute(
        update(ApiKey)
        .where(ApiKey.partner_id == partner_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
    )
