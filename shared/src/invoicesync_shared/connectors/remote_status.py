"""The last status a poller saw for a pushed document in the accounting system (draft,
open, paid…), so it reports only changes and stops watching documents that are settled;
and the booked documents of an integration with that status, for the read-back loops."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, func, select
from sqlalchemy.dialects.postgresql import UUID, distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from invoicesync_shared.db.base import Model
from invoicesync_shared.db.models import Integration, LedgerEntry
from invoicesync_shared.states import LedgerState

DocumentKey = tuple[uuid.UUID, uuid.UUID, int]  # integration, document, generation
# Payment statuses as the read-backs store and report them.
OPEN, PAID = "open", "paid"


class RemoteStatus(Model):
    __tablename__ = "connector_remote_status"

    integration_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, primary_key=True)
    system: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class RemoteStatuses:
    """Stores last-seen statuses (pollers read them joined to the ledger)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], system: str) -> None:
        self._sessionmaker = sessionmaker
        self._system = system

    async def save(self, key: DocumentKey, status: str) -> None:
        integration_id, document_id, generation = key
        async with self._sessionmaker.begin() as session:
            await session.execute(
                insert(RemoteStatus)
                .values(
                    integration_id=integration_id,
                    document_id=document_id,
                    generation=generation,
                    system=self._system,
                    status=status,
                )
                .on_conflict_do_update(
                    index_elements=["integration_id", "document_id", "generation"],
                    set_={"status": status, "updated_at": func.now()},
                )
            )


@dataclass(frozen=True)
class Booked:
    """A document an integration booked (or sent as a draft that awaits its number), as
    the ledger and the last read-back know it."""

    document_id: uuid.UUID
    generation: int
    remote_id: str
    booking_number: str | None
    last_status: str | None
    state: str
    sent_at: datetime

    def ids(self, integration: Integration) -> dict[str, Any]:
        """The identifiers every result about this document carries."""
        return {
            "document_id": self.document_id,
            "integration_id": integration.id,
            "generation": self.generation,
        }


def key_of(integration_id: uuid.UUID, booked: Booked) -> DocumentKey:
    return (integration_id, booked.document_id, booked.generation)


async def list_booked(
    sessionmaker: async_sessionmaker[AsyncSession],
    system: str,
    integration_id: uuid.UUID,
    states: Collection[str] = (LedgerState.BOOKED,),
) -> list[Booked]:
    """Documents of the integration in one of ``states`` (booked, by default), only each
    document's newest generation: an older one points at an entry a repair has replaced."""
    latest = (
        select(LedgerEntry)
        .where(LedgerEntry.integration_id == integration_id, LedgerEntry.system == system)
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
            RemoteStatus.status,
            latest.c.state,
            func.coalesce(latest.c.sent_at, latest.c.created_at),  # rows from before sent_at
        )
        .outerjoin(
            RemoteStatus,
            (RemoteStatus.integration_id == latest.c.integration_id)
            & (RemoteStatus.document_id == latest.c.document_id)
            & (RemoteStatus.generation == latest.c.generation),
        )
        .where(latest.c.state.in_(states), latest.c.remote_id.is_not(None))
    )
    async with sessionmaker() as session:
        rows = (await session.execute(query)).all()
    return [Booked(row[0], row[1], str(row[2]), row[3], row[4], row[5], row[6]) for row in rows]
