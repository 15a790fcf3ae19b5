"""The connector's queries over its ledger for the read-back: the entries an integration
booked (latest generation per document) with the last status seen for each."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors import ledger as states
from invoicesync_shared.connectors.remote_status import RemoteStatus
from invoicesync_shared.db.models import LedgerEntry

SYSTEM = "exact"
# Last statuses stored in connector_remote_status: payment ones, and the audit's verdict.
OPEN, PAID, MISSING = "open", "paid", "missing"


@dataclass(frozen=True)
class Booked:
    """An entry this integration booked, as the ledger and the last read-back know it."""

    document_id: uuid.UUID
    generation: int
    remote_id: str
    booking_number: str | None
    last_status: str | None


def key_of(integration_id: uuid.UUID, booked: Booked) -> tuple[uuid.UUID, uuid.UUID, int]:
    return (integration_id, booked.document_id, booked.generation)


async def list_booked(
    sessionmaker: async_sessionmaker[AsyncSession], integration_id: uuid.UUID
) -> list[Booked]:
    """Booked entries of the integration, only each document's newest generation: an
    older one points at an entry a repair has replaced."""
    status = RemoteStatus
    latest = (
        select(LedgerEntry)
        .where(LedgerEntry.integration_id == integration_id, LedgerEntry.system == SYSTEM)
        .order_by(LedgerEntry.document_id, LedgerEntry.generation.desc())
        .ext(distinct_on(LedgerEntry.document_id))
        .subquery()
    )
    query = (
        select(
            latest.c.document_id,
            latest.c.generation,
            latest.c.remote_id,
            latest.c.booking_number,
            status.status,
        )
        .outerjoin(
            status,
            (status.integration_id == latest.c.integration_id)
            & (status.document_id == latest.c.document_id)
            & (status.generation == latest.c.generation),
        )
        .where(latest.c.state == states.BOOKED, latest.c.remote_id.is_not(None))
    )
    async with sessionmaker() as session:
        rows = (await session.execute(query)).all()
    return [Booked(row[0], row[1], str(row[2]), row[3], row[4]) for row in rows]
