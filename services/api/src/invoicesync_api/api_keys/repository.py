"""Queries over a partner's API keys. A key is usable while it is neither revoked nor past
the end of its rotation overlap (``expires_at``, on the shared clock)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from invoicesync_api.api_keys.scopes import Scope
from invoicesync_api.db.models import ApiKey, Partner
from invoicesync_api.db.owned import get_owned
from invoicesync_api.errors.exceptions import NotFound
from invoicesync_api.i18n.catalog import N_

# How stale ``last_used_at`` may get: at most one write per key per this interval, so the
# hot path does not write on every request.
USE_NOTED_EVERY = timedelta(minutes=1)

_KEYS = ApiKey.__table__.c


def _usable(now: ColumnElement[datetime] | datetime) -> ColumnElement[bool]:
    return (_KEYS.revoked_at.is_(None)) & or_(_KEYS.expires_at.is_(None), _KEYS.expires_at > now)


_NOTE_USE = (
    update(ApiKey)
    .where(
        _KEYS.id == bindparam("key_id"),
        or_(_KEYS.last_used_at.is_(None), _KEYS.last_used_at < bindparam("stale_before")),
    )
    .values(last_used_at=bindparam("now"))
)


@dataclass(frozen=True)
class UsableKey:
    """A key that authenticated a request (looked up by rate_limits, with its limit)."""

    id: uuid.UUID
    partner_id: uuid.UUID
    scopes: list[str]
    last_used_at: datetime | None
    language: str | None = None  # the partner's default language (i18n)


def is_use_unnoted(key: UsableKey, now: datetime) -> bool:
    return key.last_used_at is None or key.last_used_at < now - USE_NOTED_EVERY


async def note_use(connection: AsyncConnection, key_id: uuid.UUID, now: datetime) -> None:
    """Record the use; a no-op when another request (or replica) noted it within the
    interval meanwhile, so concurrent first uses write once."""
    await connection.execute(
        _NOTE_USE, {"key_id": key_id, "now": now, "stale_before": now - USE_NOTED_EVERY}
    )


def add_key(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    key_hash: str,
    prefix: str,
    name: str,
    scopes: Sequence[Scope],
) -> ApiKey:
    """Store a key by its hash; the key itself is never kept."""
    key = ApiKey(
        id=uuid.uuid4(),
        partner_id=partner_id,
        key_hash=key_hash,
        prefix=prefix,
        name=name,
        scopes=[str(s) for s in scopes],
    )
    session.add(key)
    return key


async def save_key(session: AsyncSession, key: ApiKey) -> None:
    """Write the key now and read back what the database filled in (``created_at``)."""
    await session.flush()
    await session.refresh(key)


async def lock_partner(session: AsyncSession, partner_id: uuid.UUID) -> None:
    """Serialise a partner's key changes: two deletes at once cannot each see the other
    admin key as the one left."""
    await session.execute(select(Partner.id).where(Partner.id == partner_id).with_for_update())


async def list_usable_keys(
    session: AsyncSession, partner_id: uuid.UUID, now: datetime
) -> Sequence[ApiKey]:
    query = (
        select(ApiKey)
        .where(ApiKey.partner_id == partner_id, _usable(now))
        .order_by(ApiKey.created_at, ApiKey.id)
    )
    return (await session.scalars(query)).all()


async def get_usable_key(
    session: AsyncSession, key_id: uuid.UUID, partner_id: uuid.UUID, now: datetime
) -> ApiKey:
    """The partner's usable key; raises ``NotFound`` also for a foreign, revoked or expired
    one."""
    key = await get_owned(session, ApiKey, key_id, partner_id, "API key")
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        raise NotFound(N_("No such API key."))
    return key


async def count_lasting_admin_keys(
    session: AsyncSession, partner_id: uuid.UUID, now: datetime
) -> int:
    """Usable keys with the admin scope that no rotation will end: what keeps a partner
    able to manage its keys."""
    query = select(func.count()).where(
        _KEYS.partner_id == partner_id,
        _usable(now),
        _KEYS.expires_at.is_(None),
        _KEYS.scopes.contains([str(Scope.ADMIN)]),
    )
    return int(await session.scalar(query) or 0)
