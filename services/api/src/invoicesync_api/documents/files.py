"""A purchase document's original file: checked at the door (type by its first bytes,
size against the setting), then stored with its document (documents/accept.py).

The declared content type alone is not trusted: a file must start as its type does
(``%PDF-``, JPEG's SOI marker, PNG's signature), so a renamed executable or an HTML page is
refused before an accounting system is asked to keep it."""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from invoicesync_api.errors.exceptions import ApiError, ValidationFailed
from invoicesync_api.i18n.catalog import N_

# The types every system takes (Lexware: pdf, jpg, png), each with how its bytes begin.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}
# Lexware Office's limit for a voucher file, the strictest of the three systems.
DEFAULT_MAX_BYTES = 5 * 1024 * 1024


class FileTooLarge(ApiError):
    """413: the file is over the limit; ``errors`` names the field (``file``)."""

    status, code, title = 413, "file_too_large", N_("File too large")
    TEMPLATE = N_("The file is {size} bytes; at most {max_bytes} bytes are accepted.")

    def __init__(self, size: int, max_bytes: int) -> None:
        params = {"size": size, "max_bytes": max_bytes}
        error = {"field": "file", "message": self.TEMPLATE, "type": self.code, "params": params}
        super().__init__(self.TEMPLATE, params=params, extra={"errors": [error]})


@dataclass(frozen=True)
class NewFile:
    """A checked file, not yet stored; ``ref`` is what the document and its events carry."""

    id: uuid.UUID
    filename: str
    content_type: str
    content: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.content)

    def ref(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
        }

    def fingerprint(self) -> dict[str, Any]:
        """What an Idempotency-Key compares of the file: the same file sent as JSON or as a
        multipart part is the same request."""
        return {"filename": self.filename, "content_type": self.content_type, "sha256": self.sha256}


def _refused(field: str, message: str, kind: str, **params: Any) -> ValidationFailed:
    return ValidationFailed([{"field": field, "message": message, "type": kind, "params": params}])


def decode_base64(text: str) -> bytes:
    """The bytes of ``file.content_base64`` (its size is checked by ``check``; the body's
    own size is bounded before it is read, app.BodySizeLimit); 422 if it is not base64."""
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise _refused(
            "file.content_base64", N_("is not valid base64"), "file_base64_invalid"
        ) from None


def check(filename: str, content_type: str, content: bytes, *, max_bytes: int) -> NewFile:
    """The file as stored, or 413 (too large) / 422 (empty, a type not taken, or bytes
    that are not of the declared type)."""
    if len(content) > max_bytes:
        raise FileTooLarge(len(content), max_bytes)
    declared = content_type.split(";")[0].strip().lower()
    signatures = SIGNATURES.get(declared)
    if signatures is None:
        raise _refused(
            "file.content_type",
            N_("{content_type} is not accepted; send application/pdf, image/jpeg or image/png"),
            "file_type_unsupported",
            content_type=content_type,
        )
    if not content:
        raise _refused("file.content_base64", N_("the file is empty"), "file_empty")
    if not content.startswith(signatures):
        raise _refused(
            "file.content_type",
            N_("the file's content is not {content_type}"),
            "file_type_mismatch",
            content_type=declared,
        )
    return NewFile(
        id=uuid.uuid4(),
        filename=filename,
        content_type=declared,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
    )
