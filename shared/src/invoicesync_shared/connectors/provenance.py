"""The marker that proves a remote entry is ours: written on create, read on lookup.

A document number is not unique in an accounting system (numbers repeat across years,
bookkeepers type entries by hand with the same reference), so after an unknown outcome
the reference alone cannot tell our entry from another. The marker is derived from our
document id, which is unique, and is short enough for the smallest field it goes into
(Exact's header ``Description``).
"""

from __future__ import annotations

import base64
import re
import uuid

PREFIX = "isync:"
# "isync:" and the 16 bytes of the document id in lowercase base32 without padding.
MARKER_LENGTH = len(PREFIX) + 26
_MARKER = re.compile(r"isync:([a-z2-7]{26})(?![a-z2-7])")


def marker(document_id: uuid.UUID) -> str:
    """The marker of one document (reversible: support can read the id back)."""
    encoded = base64.b32encode(document_id.bytes).decode().rstrip("=").lower()
    return f"{PREFIX}{encoded}"


def document_id_of(found: str) -> uuid.UUID:
    """The document id a marker stands for."""
    encoded = found.removeprefix(PREFIX).upper() + "======"
    return uuid.UUID(bytes=base64.b32decode(encoded))


def marker_in(text: str | None) -> str | None:
    """The (first) marker a remote text field carries, if any."""
    found = _MARKER.search(text or "")
    return f"{PREFIX}{found.group(1)}" if found else None


def stamped(text: str, document_id: uuid.UUID, limit: int) -> str:
    """``text`` followed by the document's marker, ``text`` cut so both fit ``limit``."""
    mark = marker(document_id)
    if limit < MARKER_LENGTH:
        raise ValueError(f"a field of {limit} characters cannot hold a marker")
    room = limit - MARKER_LENGTH - 1
    head = text.strip()[:room].rstrip() if room > 0 else ""
    return f"{head} {mark}" if head else mark
