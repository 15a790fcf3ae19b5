"""/v1/invoices and /v1/credit-notes, and the purchase kinds' /v1/purchase-invoices,
/v1/purchase-credit-notes and /v1/receipts: one set of routes, parametrised by kind."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.clients.router import ClientFilterDep
from invoicesync_api.deps import (
    Caller,
    CallerDep,
    LanguageDep,
    NeedsRead,
    NeedsWrite,
    SessionDep,
)
from invoicesync_api.documents import files, repository, service
from invoicesync_api.documents.accept_document import AcceptDocument
from invoicesync_api.documents.idempotency import StoredResponse
from invoicesync_api.documents.multipart import MULTIPART, MULTIPART_SCHEMA, MultipartOrJson
from invoicesync_api.documents.schemas import (
    DocumentFields,
    DocumentIn,
    DocumentOut,
    DocumentPatch,
    DocumentPatchFields,
    PurchaseDocumentIn,
    PurchaseDocumentOut,
    PurchaseDocumentPatch,
    SyncStatus,
)
from invoicesync_api.examples.documents import DOCUMENT_EXAMPLES, DocumentExamples
from invoicesync_api.examples.media import body_examples, response_examples
from invoicesync_api.examples.purchase_documents import PURCHASE_DOCUMENT_EXAMPLES
from invoicesync_api.schemas import Page
from invoicesync_shared.events.documents import DocumentKind

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Recommended: the same key and body answer the same 201 without a second "
        "document; another body answers 422; while the first is in flight, 409.",
        examples=["inv-2026-0001-create"],
    ),
]


PurchaseKind = Literal["purchase_invoice", "purchase_credit_note", "receipt"]
# Each purchase kind's collection and OpenAPI tag.
PURCHASE_ROUTES: tuple[tuple[PurchaseKind, str, str], ...] = (
    ("purchase_invoice", "/v1/purchase-invoices", "purchase invoices"),
    ("purchase_credit_note", "/v1/purchase-credit-notes", "purchase credit notes"),
    ("receipt", "/v1/receipts", "receipts"),
)


def document_router(kind: Literal["invoice", "credit_note"], prefix: str, tag: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=[tag])
    examples = DOCUMENT_EXAMPLES[kind]

    @router.post(
        "",
        dependencies=[NeedsWrite],
        status_code=201,
        response_model=DocumentOut,
        openapi_extra=body_examples(examples.create),
        responses={201: response_examples(examples.created)},
    )
    async def create_document(
        body: DocumentIn,
        request: Request,
        caller: CallerDep,
        language: LanguageDep,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> JSONResponse:
        return await _create(body, kind, prefix, request, caller, language, idempotency_key)

    _add_read_routes(router, kind, examples, DocumentOut)

    @router.patch(
        "/{document_id}",
        dependencies=[NeedsWrite],
        response_model=DocumentOut,
        openapi_extra=body_examples(examples.patch),
        responses={200: response_examples(examples.patched)},
    )
    async def patch_document(
        document_id: uuid.UUID,
        body: DocumentPatch,
        request: Request,
        session: SessionDep,
        caller: CallerDep,
        language: LanguageDep,
    ) -> DocumentOut | PurchaseDocumentOut:
        """Yuki receives the edit again (cost centres set there are reset); Exact and
        Lexware keep what they have, and the answer says so in ``warnings``."""
        return await _patch(document_id, body, kind, request, session, caller, language)

    _add_action_routes(router, kind, examples, DocumentOut)
    return router


def purchase_document_router(kind: PurchaseKind, prefix: str, tag: str) -> APIRouter:
    """The sales routes' twin for a purchase kind: ``supplier`` for ``customer``, and the
    original file, in the JSON body or as a multipart part (documents/multipart.py)."""
    router = APIRouter(prefix=prefix, tags=[tag], route_class=MultipartOrJson)
    examples = PURCHASE_DOCUMENT_EXAMPLES[kind]
    create_extra = body_examples(examples.create)
    create_extra["requestBody"]["content"][MULTIPART] = {"schema": MULTIPART_SCHEMA}

    @router.post(
        "",
        dependencies=[NeedsWrite],
        status_code=201,
        response_model=PurchaseDocumentOut,
        openapi_extra=create_extra,
        responses={
            201: response_examples(examples.created),
            413: {"description": "The file is larger than the limit (5 MB by default)."},
        },
    )
    async def create_purchase_document(
        body: PurchaseDocumentIn,
        request: Request,
        caller: CallerDep,
        language: LanguageDep,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> JSONResponse:
        """The file (PDF, JPEG or PNG, by its first bytes) is stored with the document;
        events carry a reference to it, never its bytes."""
        max_bytes = request.app.state.settings.purchase_file_max_bytes
        content = files.decode_base64(body.file.content_base64)
        file = files.check(body.file.filename, body.file.content_type, content, max_bytes=max_bytes)
        return await _create(body, kind, prefix, request, caller, language, idempotency_key, file)

    _add_read_routes(router, kind, examples, PurchaseDocumentOut)

    @router.patch(
        "/{document_id}",
        dependencies=[NeedsWrite],
        response_model=PurchaseDocumentOut,
        openapi_extra=body_examples(examples.patch),
        responses={200: response_examples(examples.patched)},
    )
    async def patch_purchase_document(
        document_id: uuid.UUID,
        body: PurchaseDocumentPatch,
        request: Request,
        session: SessionDep,
        caller: CallerDep,
        language: LanguageDep,
    ) -> DocumentOut | PurchaseDocumentOut:
        """As for sales documents; the file cannot be changed."""
        return await _patch(document_id, body, kind, request, session, caller, language)

    _add_action_routes(router, kind, examples, PurchaseDocumentOut)
    return router


async def _create(
    body: DocumentFields,
    kind: DocumentKind,
    path: str,
    request: Request,
    caller: Caller,
    language: str,
    idempotency_key: str | None,
    file: files.NewFile | None = None,
) -> JSONResponse:
    # No session: AcceptDocument runs its statements autocommitted on a connection.
    accept_document: AcceptDocument = request.app.state.accept_document
    accepted = await accept_document(
        body, kind, caller.partner_id, path=path, idempotency_key=idempotency_key, file=file
    )
    # Stored and replayed in English; each answer in the language of its own request.
    if isinstance(accepted, StoredResponse):
        return JSONResponse(
            service.localised_answer(accepted.body, language),
            status_code=accepted.status,
            headers={"Idempotent-Replayed": "true"},
        )
    # Already a document's answer as JSON: sent as it is, not validated and dumped again.
    return JSONResponse(service.localised_answer(accepted, language), status_code=201)


async def _patch(
    document_id: uuid.UUID,
    body: DocumentPatchFields,
    kind: str,
    request: Request,
    session: AsyncSession,
    caller: Caller,
    language: str,
) -> DocumentOut | PurchaseDocumentOut:
    document = await service.get_document(session, document_id, caller.partner_id, kind, lock=True)
    warnings = await service.patch(
        session,
        document,
        body,
        max_days_ahead=request.app.state.settings.document_max_days_ahead,
    )
    await session.flush()
    await session.refresh(document)
    states = await repository.sync_states(session, [document.id])
    return service.to_out(document, states[document.id], warnings, language=language)


def _add_action_routes(
    router: APIRouter,
    kind: str,
    examples: DocumentExamples,
    out: type[DocumentOut | PurchaseDocumentOut],
) -> None:
    @router.post(
        "/{document_id}/book",
        dependencies=[NeedsWrite],
        response_model=out,
        responses={200: response_examples(examples.booked)},
    )
    async def book_document(
        document_id: uuid.UUID, session: SessionDep, caller: CallerDep, language: LanguageDep
    ) -> DocumentOut | PurchaseDocumentOut:
        document = await service.get_document(
            session, document_id, caller.partner_id, kind, lock=True
        )
        await service.book(session, document)
        await session.flush()
        await session.refresh(document)  # updated_at is set by the database
        states = await repository.sync_states(session, [document.id])
        return service.to_out(document, states[document.id], language=language)

    @router.post(
        "/{document_id}/retry",
        dependencies=[NeedsWrite],
        status_code=202,
        response_model=out,
        responses={202: response_examples(examples.retried)},
    )
    async def retry_document(
        document_id: uuid.UUID, session: SessionDep, caller: CallerDep, language: LanguageDep
    ) -> DocumentOut | PurchaseDocumentOut:
        document = await service.get_document(
            session, document_id, caller.partner_id, kind, lock=True
        )
        await service.retry(session, document)
        await session.flush()
        await session.refresh(document)  # updated_at is set by the database
        states = await repository.sync_states(session, [document.id])
        return service.to_out(document, states[document.id], language=language)


def _add_read_routes(
    router: APIRouter,
    kind: str,
    examples: DocumentExamples,
    out: type[DocumentOut | PurchaseDocumentOut],
) -> None:
    @router.get(
        "",
        dependencies=[NeedsRead],
        response_model=Page[out],  # type: ignore[valid-type]
        responses={200: response_examples(examples.page)},
    )
    async def list_documents(
        session: SessionDep,
        caller: CallerDep,
        language: LanguageDep,
        client_id: ClientFilterDep,
        status: Literal["draft", "booked"] | None = None,
        sync_status: SyncStatus | None = None,
        booking_number: Annotated[
            str | None, Query(description='An exact number, or "null" for documents not synced.')
        ] = None,
        system: Literal["exact", "lexware", "yuki"] | None = None,
        issued_from: date | None = None,
        issued_to: date | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: str | None = None,
    ) -> Page[Any]:
        filters = repository.DocumentFilters(
            kind=kind,
            partner_id=caller.partner_id,
            client_id=client_id,
            status=status,
            sync_status=sync_status,
            booking_number=booking_number,
            system=system,
            issued_from=issued_from,
            issued_to=issued_to,
        )
        rows, next_cursor = await repository.list_documents(
            session, filters, limit=limit, cursor=cursor
        )
        states = await repository.sync_states(session, [d.id for d in rows])
        return Page[out](  # type: ignore[valid-type]
            data=[service.to_out(d, states[d.id], language=language) for d in rows],
            next_cursor=next_cursor,
        )

    @router.get(
        "/{document_id}",
        dependencies=[NeedsRead],
        response_model=out,
        responses={200: response_examples(examples.read)},
    )
    async def read_document(
        document_id: uuid.UUID, session: SessionDep, caller: CallerDep, language: LanguageDep
    ) -> DocumentOut | PurchaseDocumentOut:
        document = await service.get_document(session, document_id, caller.partner_id, kind)
        states = await repository.sync_states(session, [document.id])
        return service.to_out(document, states[document.id], language=language)
