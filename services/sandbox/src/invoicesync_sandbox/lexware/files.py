"""``/v1/files`` and ``/v1/vouchers/{id}/files``: voucher files up and rendered documents down.

Documented (Lexware's files endpoint and the public clients that use it): multipart with
the part ``file``; ``POST /v1/files`` with ``type=voucher`` makes a new voucher in status
``unchecked`` holding the file; pdf, jpg and png; at most 5 MB. **Unverified**, the
sandbox's choice: the answer 202 with ``{id}`` (plus ``voucherId``); 413 for a bigger file;
406 (``details[]`` naming ``file``) for another type, checked by content type *and* magic
bytes; that the unchecked voucher lists as ``purchaseinvoice``; that an upload raises the
voucher's ``version``.
"""

# No postponed annotations here: FastAPI must resolve the local ``CallerDep`` alias.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from invoicesync_sandbox.filetypes import MAGIC
from invoicesync_sandbox.lexware import bookkeeping
from invoicesync_sandbox.lexware.auth import Caller
from invoicesync_sandbox.lexware.env import Env
from invoicesync_sandbox.lexware.errors import (
    LexwareError,
    LexwareUploadRoute,
    Violation,
    not_found,
    validation_error,
)
from invoicesync_sandbox.lexware.store import Organisation, StoredFile, Voucher, iso, new_id
from invoicesync_sandbox.visibility import is_visible, visible

TINY_PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
MAX_BYTES = 5 * 1024 * 1024


async def _upload(request: Request, require_type: bool) -> tuple[str, bytes]:
    """The checked ``file`` part: its content type and bytes."""
    form = await request.form()
    part = form.get("file")
    if not isinstance(part, UploadFile):
        raise validation_error([Violation("file", "NOTNULL", "multipart part file is required")])
    if require_type and form.get("type") != "voucher":
        raise validation_error([Violation("type", "NOTVALID", "must be voucher")])
    content = await part.read(MAX_BYTES + 1)
    if len(content) > MAX_BYTES:
        raise LexwareError(
            413,
            "File exceeds the limit of 5 MB.",
            [Violation("file", "SIZE", f"at most {MAX_BYTES} bytes")],
        )
    content_type = (part.content_type or "").split(";")[0].strip().lower()
    if not any(content.startswith(m) for m in MAGIC.get(content_type, ())):
        raise validation_error(
            [Violation("file", "NOTVALID", "only pdf, jpg and png files are accepted")]
        )
    return content_type, content


def _store(env: Env, org: Organisation, voucher: Voucher, content_type: str, data: bytes) -> str:
    """Keep the file and list it on ``voucher`` (under the store lock)."""
    stored = StoredFile(new_id(), content_type, data, voucher.id)
    org.files[stored.id] = stored
    voucher.files.append(stored.id)
    voucher.version += 1
    voucher.updated = env.now()
    return stored.id


def _unchecked(org: Organisation, now: float) -> Voucher:
    data: dict[str, Any] = {
        "voucherDate": iso(now),  # the upload day until a person checks it
        "useCollectiveContact": False,
        "address": {"contactId": None, "name": ""},
        "totalPrice": {"totalGrossAmount": 0.0, "totalTaxAmount": 0.0},
        "voucherItems": [],
    }
    voucher = Voucher(new_id(), org.id, "purchaseinvoice", data, now, now, status="unchecked")
    org.vouchers[voucher.id] = voucher
    return voucher


def register(router: APIRouter, env: Env) -> None:
    CallerDep = Annotated[Caller, Depends(env.caller)]

    async def attach(caller: CallerDep, voucher_id: str, request: Request) -> dict[str, Any]:
        voucher = bookkeeping.get(caller.org, voucher_id, env.now())
        content_type, content = await _upload(request, require_type=False)
        with env.store.lock:
            file_id = _store(env, caller.org, voucher, content_type, content)
        env.dispatcher.emit(caller.org, "voucher.changed", voucher.id)
        return {"id": file_id, "voucherId": voucher.id}

    async def upload(caller: CallerDep, request: Request) -> dict[str, Any]:
        content_type, content = await _upload(request, require_type=True)
        with env.store.lock:
            voucher = _unchecked(caller.org, env.now())
            file_id = _store(env, caller.org, voucher, content_type, content)
        env.dispatcher.emit(caller.org, "voucher.created", voucher.id)
        return {"id": file_id, "voucherId": voucher.id}

    for path, endpoint in (("/v1/vouchers/{voucher_id}/files", attach), ("/v1/files", upload)):
        router.add_api_route(
            path,
            endpoint,
            methods=["POST"],
            status_code=202,
            route_class_override=LexwareUploadRoute,
        )

    @router.get("/v1/files/{file_id}")
    async def file(caller: CallerDep, file_id: str) -> Response:
        now = env.now()
        stored = caller.org.files.get(file_id)
        if stored is not None and is_visible(stored, now):
            return Response(stored.content, media_type=stored.content_type)
        readable = visible(list(caller.org.vouchers.values()), now)
        if not any(v.document_file_id == file_id for v in readable):
            raise not_found("file")
        return Response(TINY_PDF, media_type="application/pdf")
