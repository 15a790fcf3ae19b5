"""Accepting a new document (POST /v1/invoices, /v1/credit-notes and the purchase kinds'):
the Idempotency-Key protocol around the accept path's two statements (documents/accept.py),
which run autocommitted on one connection, without a session or a transaction of the request's.
The first of them claims the key, so a new key costs no statement of its own.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from invoicesync_api.documents import accept, service
from invoicesync_api.documents.files import NewFile
from invoicesync_api.documents.idempotency import (
    Claimed,
    IdempotencyKeys,
    StoredResponse,
    request_hash,
)
from invoicesync_api.documents.schemas import DocumentFields
from invoicesync_api.errors.exceptions import Unavailable
from invoicesync_api.i18n.catalog import N_
from invoicesync_shared.db.engine import autocommit
from invoicesync_shared.events.documents import DocumentKind

# A store that finds the client's integrations changed since its read writes nothing and
# reads again; two changes in a row are already rare.
ACCEPT_ATTEMPTS = 3


class AcceptDocument:
    """Claim the key (or find its stored answer), build and store the document with its
    sync rows, its event and the answer, and let the key go again if that fails.

    Usage: ``accepted = await accept_document(body, "invoice", partner_id, path=...,
    idempotency_key=...)``: the new document's answer as JSON (a ``DocumentOut``, dumped
    once: the same dict is stored for replays and sent), or a ``StoredResponse``, an
    answer to replay as it is."""

    def __init__(self, engine: AsyncEngine, keys: IdempotencyKeys, *, max_days_ahead: int) -> None:
        self._engine = engine
        self._keys = keys
        self._max_days_ahead = max_days_ahead

    async def __call__(
        self,
        body: DocumentFields,
        kind: DocumentKind,
        partner_id: uuid.UUID,
        *,
        path: str,
        idempotency_key: str | None,
        file: NewFile | None = None,
    ) -> dict[str, Any] | StoredResponse:
        """The document stored, or the answer stored for the same key and body.

        Raises Conflict (the key's first request is in flight, or the number is taken),
        IdempotencyKeyReused (the key came with another body), NotFound and Unprocessable
        (the document's checks), Unavailable (the integrations kept changing).
        ``file``: a purchase document's checked file, stored with it; the key compares its
        name, type and SHA-256, so JSON and multipart of one file are one request."""
        if not idempotency_key:
            return await self._accept(body, kind, partner_id, None, None, file)
        fields = body.model_dump(mode="json", exclude={"file"})
        if file is not None:
            fields["file"] = file.fingerprint()
        digest = request_hash("POST", path, fields)
        claim = accept.Claim(idempotency_key, digest, uuid.uuid4())
        try:
            return await self._accept(body, kind, partner_id, idempotency_key, claim, file)
        except accept.KeyTaken as taken:  # nothing claimed: the key is another request's
            if taken.answer is not None:  # ... and holds the answer to this very body
                return StoredResponse(*taken.answer)
        except BaseException:
            await self._release(partner_id, claim)
            raise
        settled = await self._keys.settle(partner_id, idempotency_key, digest, claim.token)
        if isinstance(settled, StoredResponse):
            return settled
        try:  # an abandoned claim, taken over with our token: on, without claiming again
            return await self._accept(body, kind, partner_id, idempotency_key, None, file)
        except BaseException:
            await self._release(partner_id, claim)
            raise

    async def _release(self, partner_id: uuid.UUID, claim: accept.Claim) -> None:
        """Cancelled too: the key must not stay claimed for nothing. Deletes only a claim
        holding our token and no answer, so it is safe whether or not the claim was made."""
        await self._keys.release(partner_id, claim.key, Claimed(claim.token))

    async def _accept(
        self,
        body: DocumentFields,
        kind: str,
        partner_id: uuid.UUID,
        idempotency_key: str | None,
        claim: accept.Claim | None,
        file: NewFile | None,
    ) -> dict[str, Any]:
        async with autocommit(self._engine) as connection:
            for _ in range(ACCEPT_ATTEMPTS):
                out = await self._attempt(
                    connection, body, kind, partner_id, idempotency_key, claim, file
                )
                if out is not None:
                    return out
                claim = None  # claimed by the first read
        raise Unavailable(
            N_(
                "The client's integrations kept changing while the document was accepted; "
                "nothing was stored. Send it again."
            )
        )

    async def _attempt(
        self,
        connection: AsyncConnection,
        body: DocumentFields,
        kind: str,
        partner_id: uuid.UUID,
        idempotency_key: str | None,
        claim: accept.Claim | None,
        file: NewFile | None,
    ) -> dict[str, Any] | None:
        """One read (claiming the key, if ``claim``) and one write; None if the client's
        integrations changed between them (a relink or deactivation at that moment):
        nothing was written, read again."""
        new = await service.create(
            connection,
            body,
            kind,
            partner_id,
            max_days_ahead=self._max_days_ahead,
            claim=claim,
            file=file,
        )
        out = service.to_out(new.document, new.states).model_dump(mode="json")
        answer = None
        if idempotency_key:
            answer = accept.Answer(partner_id, idempotency_key, 201, out)
        stored = await accept.store(
            connection, new.document, new.states, new.announcement, answer, new.file
        )
        if stored:
            return out
        return None
