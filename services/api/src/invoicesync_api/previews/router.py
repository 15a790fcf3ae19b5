"""POST /v1/invoices/preview and /v1/credit-notes/preview."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request

from invoicesync_api.deps import CallerDep, LanguageDep, NeedsWrite
from invoicesync_api.documents.schemas import DocumentIn
from invoicesync_api.examples.documents import DOCUMENT_EXAMPLES
from invoicesync_api.examples.media import body_examples, response_examples
from invoicesync_api.examples.previews import PREVIEWS
from invoicesync_api.previews import service
from invoicesync_api.previews.schemas import PreviewOut


def preview_router(kind: Literal["invoice", "credit_note"], prefix: str, tag: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=[tag])
    name = "invoice" if kind == "invoice" else "credit note"

    @router.post(
        "/preview",
        dependencies=[NeedsWrite],
        response_model=PreviewOut,
        openapi_extra=body_examples(DOCUMENT_EXAMPLES[kind].create),
        responses={200: response_examples(PREVIEWS)},
        summary=f"Preview an {name}" if kind == "invoice" else f"Preview a {name}",
        description=f"The same body as the create; nothing is stored and nothing is sent. "
        f"For each integration of the client that would book the {name}: the payload "
        "exactly as its connector would send it, the customer it would match or create, and "
        "every problem found against the accounting system's live settings (VAT codes, GL "
        "accounts and journals of the Exact division, company and customer data Lexware "
        "needs, a small-business Lexware account, the integration's start date, a lapsed "
        "connection), each saying what to do. A connector that does not answer within "
        "INVOICESYNC_PREVIEW_TIMEOUT_SECONDS (5) gives that integration a "
        "``preview_unavailable`` problem. A body the create would refuse is refused the "
        "same way (422, 404, 409). Needs the ``write`` scope, as the create does.",
    )
    async def preview_document(
        body: DocumentIn, request: Request, caller: CallerDep, language: LanguageDep
    ) -> PreviewOut:
        state = request.app.state
        out = await service.preview(state.engine, state.settings, body, kind, caller.partner_id)
        return service.localised(out, language)

    return router
