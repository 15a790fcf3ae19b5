"""The last status a poller saw for a pushed document in the accounting system (draft,
open, paid…), so it reports only changes and stops watching documents that are settled."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, func
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from invoicesync_shared.db.base import Model

DocumentKey = tuple[uuid.UUID, uuid.UUID, int]  # integration, document, generation


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
