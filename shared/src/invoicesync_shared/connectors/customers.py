"""Customer links: our customer ↔ the remote relation, per client and remote scope."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.bus.slots import keeping_slot
from invoicesync_shared.connectors.errors import TransientError
from invoicesync_shared.db.engine import standalone
from invoicesync_shared.db.models import CustomerLink

# How long a document waits for another that matches or creates the same customer (a
# few calls to the accounting system) before it is retried.
LOCK_WAIT_MS = 60_000
LOCK_NOT_AVAILABLE = "55P03"
# Customers matched or created at once per process. Each holds a connection for its lock
# and needs a second one meanwhile (its token, Lexware's pacing slot): with as many
# holders as the pool has connections (10 + 10 overflow), every one waits for a second
# connection none gives back (seen when 100 companies book their first documents at
# once; the consumer runs 32). Below half the pool, holders always finish.
LOCK_HOLDERS = 8
_holders: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _lock_holders() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    if loop not in _holders:
        _holders[loop] = asyncio.Semaphore(LOCK_HOLDERS)
    return _holders[loop]


@dataclass(frozen=True)
class RemoteCustomer:
    remote_id: str
    code: str | None = None


class CustomerLinks:
    """Looks up and stores links; each call is its own short transaction.

    ``role`` keeps customers and suppliers apart: a business partner's customer id and
    its supplier id come from different lists of the source application and may be
    equal, and one remote relation is never both by accident: the role is part of the
    link's key and of its lock."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        client_id: uuid.UUID,
        system: str,
        scope: str,
        role: Literal["customer", "supplier"] = "customer",
    ) -> None:
        self._sessionmaker = sessionmaker
        self._standalone = standalone(sessionmaker)  # one statement: one round trip
        self._key = {"client_id": client_id, "system": system, "scope": scope, "role": role}
        self.role = role

    @asynccontextmanager
    async def locked(self, customer_key: str) -> AsyncIterator[None]:
        """Hold an advisory lock on one customer while it is matched or created, so two
        documents (or two replicas) never create the same relation twice.

        The lock belongs to a transaction open meanwhile: it ends with it whatever
        happens (a push cancelled, a connection dropped) and never outlives it on a
        pooled connection. A wait for it is bounded (``TransientError`` after
        ``LOCK_WAIT``)."""
        key = self._key
        # A customer's lock is named as before roles (replicas of both ages meet on it).
        role = "" if self.role == "customer" else f"{self.role}/"
        digest = hashlib.sha256(
            f"{key['client_id']}/{key['system']}/{key['scope']}/{role}{customer_key}".encode()
        ).digest()
        lock_id = int.from_bytes(digest[:8], "big", signed=True)
        async with _lock_holders(), self._sessionmaker.begin() as session:
            await session.execute(text(f"SET LOCAL lock_timeout = {LOCK_WAIT_MS}"))
            try:
                await session.execute(select(func.pg_advisory_xact_lock(lock_id)))
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                    raise
                raise TransientError(
                    "another push is still matching or creating this customer"
                ) from exc
            with keeping_slot():  # the connection is held: its budget waits keep the slot
                yield

    async def resolve(
        self,
        customer_key: str,
        match_or_create: Callable[[], Awaitable[tuple[RemoteCustomer, bool]]],
    ) -> tuple[RemoteCustomer, bool]:
        """The linked customer; else, under the customer's lock, what ``match_or_create``
        finds or creates in the accounting system (and whether it created it), linked.

        A known customer costs one query and no lock: only a first sighting waits on the
        lock (holding a connection while it waits), and it asks again once it has it."""
        if link := await self.find(customer_key):
            return link, False
        async with self.locked(customer_key):
            if link := await self.find(customer_key):
                return link, False
            customer, created = await match_or_create()
            await self.save(customer_key, customer)
            return customer, created

    async def find(self, customer_key: str) -> RemoteCustomer | None:
        async with self._standalone() as session:
            link = await session.scalar(
                select(CustomerLink).filter_by(**self._key, customer_key=customer_key)
            )
        return RemoteCustomer(link.remote_id, link.remote_code) if link else None

    async def holder(self, remote_id: str) -> str | None:
        """Which of our relations (of this role and scope) is linked to ``remote_id``:
        a system that numbers its relations may give one of ours, made without our code,
        the code another of ours would be matched by."""
        async with self._standalone() as session:
            key: str | None = await session.scalar(
                select(CustomerLink.customer_key)
                .filter_by(**self._key, remote_id=remote_id)
                .limit(1)
            )
        return key

    async def save(self, customer_key: str, customer: RemoteCustomer) -> None:
        async with self._sessionmaker.begin() as session:
            await session.execute(
                insert(CustomerLink)
                .values(
                    **self._key,
                    customer_key=customer_key,
                    remote_id=customer.remote_id,
                    remote_code=customer.code,
                )
                .on_conflict_do_update(
                    index_elements=["client_id", "system", "scope", "customer_key", "role"],
                    set_={"remote_id": customer.remote_id, "remote_code": customer.code},
                )
            )
