"""The connector ledger: an attempt is recorded before the remote call, so an outcome
never learned (crash, timeout, lost response) is found and resolved by lookup."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.db.models import LedgerEntry

ATTEMPTING, BOOKED, SENT, FAILED = "attempting", "booked", "sent", "failed"
LEASE_FREE = datetime(2000, 1, 1, tzinfo=UTC)


class Ledger:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], system: str) -> None:
        self._sessionmaker = sessionmaker
        self._system = system

    async def find(
        self, integration_id: uuid.UUID, document_id: uuid.UUID, generation: int
    ) -> LedgerEntry | None:
        async with self._sessionmaker() as session:
            return await session.get(LedgerEntry, (integration_id, document_id, generation))

    async def claim_attempt(
        self,
        integration_id: uuid.UUID,
        document_id: uuid.UUID,
        generation: int,
        reference: str,
        *,
        lease: timedelta,
    ) -> LedgerEntry | None:
        """Mark the attempt before the call, as a lease: None while another worker holds a
        live one (a rebalance can hand one document to two replicas at once), so only one
        of them ever calls the accounting system. A lapsed lease (its holder died) is taken
        over; the taker looks the document up first, as for any unknown outcome."""
        async with self._sessionmaker.begin() as session:
            entry = await session.get(
                LedgerEntry, (integration_id, document_id, generation), with_for_update=True
            )
            now = datetime.now(UTC)
            if entry is None:
                entry = LedgerEntry(
                    integration_id=integration_id,
                    document_id=document_id,
                    generation=generation,
                    system=self._system,
                    reference=reference,
                    attempts=0,
                )
                session.add(entry)
            elif entry.state == ATTEMPTING and entry.updated_at > now - lease:
                return None
            entry.state = ATTEMPTING
            entry.attempts += 1
            entry.updated_at = now
            return entry

    async def renew(
        self, integration_id: uuid.UUID, document_id: uuid.UUID, generation: int
    ) -> None:
        """Keep the lease while retrying, so no one takes over a live attempt."""
        async with self._sessionmaker.begin() as session:
            await session.execute(
                update(LedgerEntry)
                .where(
                    LedgerEntry.integration_id == integration_id,
                    LedgerEntry.document_id == document_id,
                    LedgerEntry.generation == generation,
                )
                .values(updated_at=datetime.now(UTC))
            )

    async def record_outcome(
        self,
        integration_id: uuid.UUID,
        document_id: uuid.UUID,
        generation: int,
        *,
        state: str,
        remote_id: str | None = None,
        booking_number: str | None = None,
        error: str | None = None,
        revision: int | None = None,
    ) -> None:
        async with self._sessionmaker.begin() as session:
            entry = await session.get(
                LedgerEntry, (integration_id, document_id, generation), with_for_update=True
            )
            if entry is None:
                raise LookupError("outcome for an attempt that was never recorded")
            entry.state = state
            entry.last_error = error
            # Outcome recorded (even "still unknown"): the lease is free for the next try.
            entry.updated_at = LEASE_FREE
            if remote_id is not None:
                entry.remote_id = remote_id
            if booking_number is not None:
                entry.booking_number = booking_number
            if revision is not None:
                entry.revision = revision
