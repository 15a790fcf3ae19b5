"""Purchase documents into Yuki: the original file uploaded (Archive.asmx
UploadDocumentWithData) into the administration's purchase folder, which Yuki processes
(reads the supplier, amounts and VAT from the file) and a bookkeeper books.

Yuki answers an upload with the archive document's ID only; the booking (and its number)
comes from Yuki's processing later, so a push reports the document as sent with that ID.
A lookup by our marker in the file name finds the upload again (exactly once after a lost
answer) and brings the number once Yuki shows one on the archive document (its
``Reference``: unverified, docs/purchase-documents.md). It reads the purchase folder's
newest documents first (DocumentsInFolder: no text index, so a fresh upload shows even
while Yuki's search lags behind it), then SearchDocuments for an older upload. One call
per document: Yuki documents no batch upload.
"""

from __future__ import annotations

import uuid

import structlog

from connector_yuki import archive
from connector_yuki.batching import BatchKey
from connector_yuki.sessions import SessionPool
from connector_yuki.soap import YukiSoap
from invoicesync_shared.connectors.errors import PermanentError
from invoicesync_shared.connectors.protocol import Booking
from invoicesync_shared.events.documents import DocumentSnapshot

log = structlog.get_logger()
# How many of the purchase folder's newest documents a lookup reads: an upload in doubt
# is at most minutes old, and a folder gets far fewer uploads than this meanwhile.
RECENT_UPLOADS = 200


class PurchaseArchive:
    def __init__(self, soap: YukiSoap, sessions: SessionPool) -> None:
        self._soap = soap
        self._sessions = sessions
        # Administration → its purchase folder: read once per process (folders rarely
        # change). A folder Yuki says does not exist is dropped, so the document's retry
        # (after the bookkeeper mended the folders) reads them again.
        self._folders: dict[str, int] = {}

    async def upload(self, key: BatchKey, upload: archive.Upload) -> Booking:
        """Upload the file; the archive document's ID, with no booking number yet."""
        folder = await self.folder(key)
        try:
            document_id = await self._sessions.call(
                key.access_key,
                lambda session: self._soap.upload_document_with_data(
                    session, key.administration_id, folder, upload
                ),
            )
        except PermanentError as exc:
            if exc.code == archive.FOLDER_NOT_FOUND:
                self._folders.pop(key.administration_id, None)
            raise
        return Booking(document_id, None)

    async def find(self, key: BatchKey, document: DocumentSnapshot) -> Booking | None:
        """The upload carrying this document's marker, if any; its booking number once
        Yuki's processing filled the archive document's Reference."""
        return await self._find(key, document.id)

    async def number(self, key: BatchKey, document_id: uuid.UUID) -> str | None:
        found = await self._find(key, document_id)
        return None if found is None else found.booking_number

    async def _find(self, key: BatchKey, document_id: uuid.UUID) -> Booking | None:
        token = archive.token(document_id)
        folder = await self.folder(key)
        recent = await self._sessions.call(
            key.access_key,
            lambda session: self._soap.documents_in_folder(session, folder, RECENT_UPLOADS),
        )
        # Newest first: the oldest of ours is the one we report.
        ours = [d for d in reversed(recent) if token in d.subject or token in d.file_name]
        if not ours:
            found = await self._sessions.call(
                key.access_key, lambda session: self._soap.search_documents(session, token)
            )
            ours = [d for d in found if token in d.subject or token in d.file_name]
        if not ours:
            return None
        if len(ours) > 1:  # never by our doing; the oldest is the one we report
            log.warning("yuki archive holds the document twice", ids=[d.id for d in ours])
        first = ours[0]
        return Booking(first.id, first.reference or None)

    async def folder(self, key: BatchKey) -> int:
        if key.administration_id not in self._folders:
            folders = await self._sessions.call(key.access_key, self._soap.document_folders)
            self._folders[key.administration_id] = archive.purchase_folder(folders)
        return self._folders[key.administration_id]
