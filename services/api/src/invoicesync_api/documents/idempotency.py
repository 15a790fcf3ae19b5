"""Idempotency-Key semantics: the same key and body replay the stored answer, another
body is a 422, and a key whose first request is still running is a 409.

The key is claimed in a transaction of its own, so a concurrent request sees the claim
at once instead of waiting for the first request's transaction.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import IdempotencyKey
from invoicesync_api.errors import Conflict, IdempotencyKeyReused


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: dict[str, Any]


def request_hash(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyKeys:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], in_flight_seconds: int
    ) -> None:
        self._sessionmaker = sessionmaker
        self._in_flight = timedelta(seconds=in_flight_seconds)

    async def claim(self, partner_id: uuid.UUID, key: str, digest: str) -> StoredResponse | None:
        """None: the key is ours, go on. A response: replay it. Raises 409/422."""
        async with self._sessionmaker.begin() as session:
            inserted = await session.scalar(
                insert(IdempotencyKey)
                .values(partner_id=partner_id, key=key, request_hash=digest)
                .on_conflict_do_nothing()
                .returning(IdempotencyKey.key)
            )
            if inserted is not None:
                return None
            existing = await session.scalar(
                select(IdempotencyKey).filter_by(partner_id=partner_id, key=key).with_for_update()
            )
            assert existing is not None
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

    @staticmethod
    async def complete(
        session: AsyncSession, partner_id: uuid.UUID, key: str, status: int, body: dict[str, Any]
    ) -> None:
        """Store the answer in the request's own transaction, with what it created."""
        await session.execute(
            update(IdempotencyKey)
            .filter_by(partner_id=partner_id, key=key)
            .values(response_status=status, response_body=body)
        )

    async def release(self, partner_id: uuid.UUID, key: str) -> None:
        """The request failed without storing anything: the key may be used again."""
        async with self._sessionmaker.begin() as session:
            await session.execute(delete(IdempotencyKey).filter_by(partner_id=partner_id, key=key))
