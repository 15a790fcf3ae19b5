"""Idempotency-Key semantics: the same key and body replay the stored answer, another
body is a 422, and a key whose first request is still running is a 409.

The key is claimed outside the request's transaction (one autocommitted statement: on the
accept path, the statement that reads what the document needs, documents/accept.py), so a
concurrent request sees the claim at once instead of waiting for the first request's
transaction. The answer is stored by the statement that stores what it describes
(documents/accept.py). A key found taken is settled here (``settle``).

A claim older than the in-flight window (database clock) is taken over with a new claim
token; a release deletes only the claim holding its own token, so a request whose claim
was taken over cannot free the key under the request that took it over.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Float, Table, bindparam, delete, func, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)

from invoicesync_api.db.models import IdempotencyKey
from invoicesync_api.errors.exceptions import Conflict, IdempotencyKeyReused
from invoicesync_api.i18n.catalog import N_
from invoicesync_shared.db.engine import autocommit

KEYS = cast(Table, IdempotencyKey.__table__)
# Built once, as every keyed POST runs them: compiled once, prepared once per connection.
CLAIM = (
    insert(KEYS)
    .values(
        partner_id=bindparam("partner_id"),
        key=bindparam("key"),
        request_hash=bindparam("request_hash"),
        claim_token=bindparam("token"),
    )
    .on_conflict_do_nothing()
    .returning(KEYS.c.key)
)
# Never a stored answer: a request cancelled while its write committed keeps its replay.
# Never another request's claim: the token is the one this request claimed with.
RELEASE = delete(KEYS).where(
    KEYS.c.partner_id == bindparam("partner_id"),
    KEYS.c.key == bindparam("key"),
    KEYS.c.claim_token == bindparam("token"),
    KEYS.c.response_status.is_(None),
)


@dataclass(frozen=True)
class Claimed:
    """The key is this request's: go on, and release it with ``token`` if it fails."""

    token: uuid.UUID


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
        self._in_flight_seconds = float(in_flight_seconds)

    async def claim(self, partner_id: uuid.UUID, key: str, digest: str) -> Claimed | StoredResponse:
        """Claimed: the key is ours, go on. A response: replay it. Raises 409/422."""
        token = uuid.uuid4()
        if await self._insert_claim(partner_id, key, digest, token):
            return Claimed(token)
        return await self.settle(partner_id, key, digest, token)

    async def _insert_claim(
        self, partner_id: uuid.UUID, key: str, digest: str, token: uuid.UUID
    ) -> bool:
        """The common case, a new key: one autocommitted statement (no BEGIN, no COMMIT)."""
        async with autocommit(self._engine) as connection:
            inserted = await connection.scalar(
                CLAIM,
                {"partner_id": partner_id, "key": key, "request_hash": digest, "token": token},
            )
        return inserted is not None

    async def settle(
        self, partner_id: uuid.UUID, key: str, digest: str, token: uuid.UUID
    ) -> Claimed | StoredResponse:
        """The key was found taken: its stored answer to replay, or the claim taken over
        with ``token`` if its request was abandoned. Raises 409/422."""
        in_flight = func.make_interval(0, 0, 0, 0, 0, 0, literal(self._in_flight_seconds, Float()))
        async with self._sessionmaker.begin() as session:
            row = (
                await session.execute(
                    select(IdempotencyKey, (IdempotencyKey.created_at < func.now() - in_flight))
                    .where(IdempotencyKey.partner_id == partner_id, IdempotencyKey.key == key)
                    .with_for_update(of=IdempotencyKey)
                )
            ).first()
            existing, abandoned = row if row is not None else (None, False)
            if existing is None:  # the first request failed and let the key go just now
                raise Conflict(N_("A request with this Idempotency-Key just ended; send it again."))
            if existing.request_hash != digest:
                raise IdempotencyKeyReused(
                    N_("This Idempotency-Key was used with a different request body.")
                )
            if existing.response_status is not None and existing.response_body is not None:
                return StoredResponse(existing.response_status, existing.response_body)
            if not abandoned:
                raise Conflict(N_("A request with this Idempotency-Key is still in progress."))
            # Abandoned: take it over, on the database clock, with a token of our own.
            existing.created_at, existing.claim_token = func.now(), token
            return Claimed(token)

    async def release(self, partner_id: uuid.UUID, key: str, claim: Claimed) -> None:
        """The request failed: unless its answer was stored, or another request has taken
        the claim over, the key may be used again."""
        async with autocommit(self._engine) as connection:
            await connection.execute(
                RELEASE, {"partner_id": partner_id, "key": key, "token": claim.token}
            )
