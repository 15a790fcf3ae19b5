"""The connector's queries over its ledger: the invoice a credit note corrects, and the
drafts and open vouchers still to watch for a number or a payment."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connector_lexware.mapping import scope_of
from invoicesync_shared.connectors.remote_status import RemoteStatus
from invoicesync_shared.db.models import Integration, LedgerEntry
from invoicesync_shared.states import IntegrationStatus, LedgerState

SYSTEM = "lexware"
# Remote statuses after which nothing changes any more that we report.
SETTLED = ("paid", "paidoff", "voided")
# One poller at a time across replicas (an arbitrary, fixed advisory lock key).
POLL_LOCK = 0x1E3A_0001
LOCK_RETRY_SECONDS = 0.2


@dataclass(frozen=True)
class Tracked:
    """A pushed voucher still awaiting its number or its payment."""

    integration_id: uuid.UUID
    scope: str
    client_id: uuid.UUID
    document_id: uuid.UUID
    generation: int
    state: str
    remote_id: str
    sent_at: datetime
    last_status: str | None


async def find_remote_id(
    sessionmaker: async_sessionmaker[AsyncSession],
    integration_id: uuid.UUID,
    document_id: uuid.UUID,
) -> str | None:
    """The Lexware id this integration gave ``document_id`` (latest generation)."""
    async with sessionmaker() as session:
        found = await session.scalar(
            select(LedgerEntry.remote_id)
            .where(
                LedgerEntry.integration_id == integration_id,
                LedgerEntry.document_id == document_id,
                LedgerEntry.remote_id.is_not(None),
            )
            .order_by(LedgerEntry.generation.desc())
            .limit(1)
        )
    return str(found) if found else None


async def list_tracked(
    sessionmaker: async_sessionmaker[AsyncSession], integration_id: uuid.UUID | None = None
) -> list[Tracked]:
    """Sent or booked vouchers of active integrations (or of one) whose last seen status
    is unsettled."""
    status = RemoteStatus
    query = (
        select(LedgerEntry, Integration.client_id, Integration.settings, status.status)
        .join(Integration, Integration.id == LedgerEntry.integration_id)
        .outerjoin(
            status,
            (status.integration_id == LedgerEntry.integration_id)
            & (status.document_id == LedgerEntry.document_id)
            & (status.generation == LedgerEntry.generation),
        )
        .where(
            LedgerEntry.system == SYSTEM,
            LedgerEntry.state.in_((LedgerState.SENT, LedgerState.BOOKED)),
            LedgerEntry.remote_id.is_not(None),
            Integration.status == IntegrationStatus.ACTIVE,
            status.status.is_(None) | status.status.not_in(SETTLED),
        )
        .order_by(LedgerEntry.integration_id)
    )
    if integration_id is not None:
        query = query.where(LedgerEntry.integration_id == integration_id)
    async with sessionmaker() as session:
        rows = (await session.execute(query)).all()
    return [
        Tracked(
            entry.integration_id,
            scope_of(entry.integration_id, settings),
            client_id,
            entry.document_id,
            entry.generation,
            entry.state,
            str(entry.remote_id),
            entry.sent_at or entry.created_at,  # rows from before sent_at was kept
            last,
        )
        for entry, client_id, settings, last in rows
    ]


@asynccontextmanager
async def poll_lock(
    sessionmaker: async_sessionmaker[AsyncSession], *, wait: float = 0.0
) -> AsyncIterator[bool]:
    """Yields whether this process got the poller lock (trying for up to ``wait`` seconds);
    replicas that did not skip a round, so a finalised voucher is reported once, not once
    per replica."""
    tries = 1 + int(wait / LOCK_RETRY_SECONDS)
    async with sessionmaker() as session:
        for attempt in range(tries):  # the holder is another process: ask again shortly
            acquired = bool(await session.scalar(select(func.pg_try_advisory_lock(POLL_LOCK))))
            if acquired or attempt == tries - 1:
                break
            await asyncio.sleep(LOCK_RETRY_SECONDS)
        try:
            yield acquired
        finally:
            if acquired:
                await session.execute(select(func.pg_advisory_unlock(POLL_LOCK)))
