"""A purchase document sent as multipart/form-data: a part ``document`` (the JSON body
without ``file``) and a part ``file``, turned into the JSON body before FastAPI reads it,
so both forms go through one model, one set of checks and one OpenAPI schema."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile

from invoicesync_api.errors.exceptions import ValidationFailed
from invoicesync_api.i18n.catalog import N_

MULTIPART = "multipart/form-data"
# Where the OpenAPI document describes the multipart form (its parts' names).
MULTIPART_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["document", "file"],
    "properties": {
        "document": {
            "type": "string",
            "description": "The body as JSON, without `file` (PurchaseDocumentFields).",
        },
        "file": {"type": "string", "format": "binary", "description": "PDF, JPEG or PNG."},
    },
}


def _missing(part: str) -> ValidationFailed:
    return ValidationFailed(
        [{"field": part, "message": N_("is required in a multipart body"), "type": "missing"}]
    )


async def as_json_body(request: Request) -> bytes:
    """The multipart request's parts as the JSON body (the file base64-encoded)."""
    async with request.form(max_files=1, max_fields=1) as form:
        document, file = form.get("document"), form.get("file")
        if document is None:
            raise _missing("document")
        if not isinstance(file, UploadFile):
            raise _missing("file")
        text = await document.read() if isinstance(document, UploadFile) else document.encode()
        try:
            fields = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser
            fields = None
        if not isinstance(fields, dict):
            raise ValidationFailed(
                [
                    {
                        "field": "document",
                        "message": N_("must be a JSON object"),
                        "type": "document_invalid",
                    }
                ]
            )
        content = await file.read()
    fields["file"] = {
        "filename": file.filename or "document",
        "content_type": file.content_type or "application/octet-stream",
        "content_base64": base64.b64encode(content).decode(),
    }
    return json.dumps(fields).encode()


class MultipartOrJson(APIRoute):
    """A route whose JSON body may come as multipart/form-data as well."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            content_type = request.headers.get("content-type", "")
            if request.method == "POST" and content_type.startswith(MULTIPART):
                body = await as_json_body(request)
                headers = [
                    (name, value)
                    for name, value in request.scope["headers"]
                    if name not in (b"content-type", b"content-length")
                ]
                headers.append((b"content-type", b"application/json"))
                scope = {**request.scope, "headers": headers}
                request = Request(scope, request.receive)
                request._body = body  # read already: FastAPI takes it as it is
            return await handler(request)

        return route_handler
