"""Idempotency-Key semantics: the same key and body replay the stored answer, another
body is a 422, and a key whose first request is still running is a 409.

The key is claimed outside the request's transaction (one autocommitted statement), so
a concurrent request sees the claim at once instead of waiting for the first request's
transaction. The answer is stored by the statement that stores what it describes
(documents/accept.py).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)

from invoicesync_api.db.models import IdempotencyKey
from invoicesync_api.errors import Conflict, IdempotencyKeyReused
from invoicesync_shared.db.engine import autocommit

KEYS = cast(Table, IdempotencyKey.__table__)
# Built once, as every keyed POST runs them: compiled once, prepared once per connection.
CLAIM = (
    insert(KEYS)
    .values(
        partner_id=bindparam("partner_id"),
        key=bindparam("key"),
        request_hash=bindparam("request_hash"),
    )
    .on_conflict_do_nothing()
    .returning(KEYS.c.key)
)
# Never a stored answer: a request cancelled while its write committed keeps its replay.
RELEASE = delete(KEYS).where(
    KEYS.c.partner_id == bindparam("partner_id"),
    KEYS.c.key == bindparam("key"),
    KEYS.c.response_status.is_(None),
)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: dict[str, Any]


def request_hash(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyKeys:
    def __init__(
        self,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        in_flight_seconds: int,
    ) -> None:
        self._engine = engine
        self._sessionmaker = sessionmaker
        self._in_flight = timedelta(seconds=in_flight_seconds)

    async def claim(self, partner_id: uuid.UUID, key: str, digest: str) -> StoredResponse | None:
        """None: the key is ours, go on. A response: replay it. Raises 409/422."""
        if await self._insert_claim(partner_id, key, digest):
            return None
        return await self._existing_claim(partner_id, key, digest)

    async def _insert_claim(self, partner_id: uuid.UUID, key: str, digest: str) -> bool:
        """The common case, a new key: one autocommitted statement (no BEGIN, no COMMIT)."""
        async with autocommit(self._engine) as connection:
            inserted = await connection.scalar(
                CLAIM, {"partner_id": partner_id, "key": key, "request_hash": digest}
            )
        return inserted is not None

    async def _existing_claim(
        self, partner_id: uuid.UUID, key: str, digest: str
    ) -> StoredResponse | None:
        async with self._sessionmaker.begin() as session:
            existing = await session.scalar(
                select(IdempotencyKey).filter_by(partner_id=partner_id, key=key).with_for_update()
            )
            if existing is None:  # the first request failed and let the key go just now
                raise Conflict("A request with this Idempotency-Key just ended; send it again.")
            if existing.request_hash != digest:
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was used with a different request body."
                )
            if existing.response_status is not None and existing.response_body is not None:
                return StoredResponse(existing.response_status, existing.response_body)
            if existing.created_at > datetime.now(UTC) - self._in_flight:
                raise Conflict("A request with this Idempotency-Key is still in progress.")
            existing.created_at = datetime.now(UTC)  # abandoned claim: take it over
            return None

    async def release(self, partner_id: uuid.UUID, key: str) -> None:
        """The request failed: unless its answer was stored, the key may be used again."""
        async with autocommit(self._engine) as connection:
            await connection.execute(RELEASE, {"partner_id": partner_id, "key": key})
