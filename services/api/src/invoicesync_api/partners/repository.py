"""Queries over partners and their API keys."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.db.models import ApiKey, Partner
from invoicesync_api.errors.exceptions import NotFound
from invoicesync_api.i18n.catalog import N_


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
        raise NotFound(N_("No such partner."))
    return partner


async def default_language(session: AsyncSession, partner_id: uuid.UUID) -> str:
    """The partner's default language for what no request accompanies (webhooks)."""
    language = await session.scalar(select(Partner.language).where(Partner.id == partner_id))
    return language or "en"


async def revoke_api_keys(session: AsyncSession, partner_id: uuid.UUID, now: datetime) -> None:
    """Revoke every key of the partner not revoked yet."""
    await session.execute(
        update(ApiKey)
        .where(ApiKey.partner_id == partner_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
    )
