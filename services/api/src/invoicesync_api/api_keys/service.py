"""Issuing, rotating and revoking keys: the rules (shown once, an admin key always left)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.api_keys import repository
from invoicesync_api.api_keys.scopes import Scope
from invoicesync_api.db.models import ApiKey
from invoicesync_api.errors.exceptions import Conflict
from invoicesync_api.i18n.catalog import N_


def new_secret() -> str:
    return "isk_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """Keys are random, so SHA-256 is enough: a slow hash would add nothing."""
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(
    session: AsyncSession, partner_id: uuid.UUID, name: str, scopes: Sequence[Scope]
) -> tuple[ApiKey, str]:
    """A new key and its secret, to show once; only the hash is stored."""
    secret = new_secret()
    key = repository.add_key(
        session,
        partner_id,
        key_hash=hash_key(secret),
        prefix=secret[:10],
        name=name,
        scopes=scopes,
    )
    return key, secret


async def rotate_key(
    session: AsyncSession, key: ApiKey, overlap: timedelta, now: datetime
) -> tuple[ApiKey, str]:
    """A successor with the same name and scopes; the old key works until ``now + overlap``.
    Raises ``Conflict`` for a key already rotated (rotate its successor)."""
    if key.expires_at is not None:
        raise Conflict(
            N_("This key was rotated already and ends at its expires_at; rotate its successor.")
        )
    key.expires_at = now + overlap
    successor = issue_key(session, key.partner_id, key.name, [Scope(s) for s in key.scopes])
    await session.flush()
    return successor


async def revoke_key(session: AsyncSession, key: ApiKey, now: datetime) -> None:
    """Revoke at once. Raises ``Conflict`` for the partner's last lasting admin key: without
    it, no key could manage keys or integrations any more."""
    lasting_admin = Scope.ADMIN in key.scopes and key.expires_at is None
    if (
        lasting_admin
        and await repository.count_lasting_admin_keys(session, key.partner_id, now) <= 1
    ):
        raise Conflict(
            N_("This is the last key with the admin scope; create another admin key first."),
            extra={"reason": "last_admin_key"},
        )
    key.revoked_at = now
    await session.flush()
