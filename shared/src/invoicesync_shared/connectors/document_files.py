"""How a connector gets a purchase document's file: by the event's reference, from the
``document_files`` table of the one PostgreSQL database (ARCHITECTURE.md: one database;
connectors already read the API's integrations there). Not over HTTP: that would need a
partner's API key, which connectors never hold. Not on Kafka: events stay small."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.errors import PermanentError
from invoicesync_shared.db.models import DocumentFile
from invoicesync_shared.events.documents import DocumentFileRef
from invoicesync_shared.states import FailureCode


class FileMissing(Exception):
    """The referenced file is not there, or not the bytes the reference describes."""


async def read(sessionmaker: async_sessionmaker[AsyncSession], ref: DocumentFileRef) -> bytes:
    """The file's bytes, checked against the reference's size and SHA-256."""
    async with sessionmaker() as session:
        content = await session.scalar(
            select(DocumentFile.content).where(DocumentFile.id == ref.id)
        )
    if content is None:
        raise FileMissing(f"file {ref.id} is not stored")
    if len(content) != ref.size or hashlib.sha256(content).hexdigest() != ref.sha256:
        raise FileMissing(f"file {ref.id} is not the file the event refers to")
    return bytes(content)


class DocumentFiles:
    """A push's access to its document's file: a file that is gone is a permanent
    failure (``file_missing``) a bookkeeper can act on, never a crash of the push."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def read(self, ref: DocumentFileRef) -> bytes:
        try:
            return await read(self._sessionmaker, ref)
        except FileMissing as exc:
            raise PermanentError(
                FailureCode.FILE_MISSING,
                f"The original file {ref.filename!r} could not be read: post the document "
                "again with its file.",
            ) from exc
