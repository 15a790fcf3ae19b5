"""The files a system takes with a purchase document: each connector declares its size and
content types, and the runtime refuses a file beyond them before any call (a push) or as
a problem (a preview). One rule for every system, said the same way, instead of a check
per connector that each answered differently."""

from __future__ import annotations

from dataclasses import dataclass

from invoicesync_shared.connectors.errors import PermanentError
from invoicesync_shared.events.documents import DocumentFileRef
from invoicesync_shared.states import FailureCode

MIB = 1024 * 1024
# What the API takes (README: Purchase documents); a system may take less.
PDF_JPEG_PNG = frozenset({"application/pdf", "image/jpeg", "image/png"})
_TYPE_NAMES = {"application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG"}


@dataclass(frozen=True)
class FileLimits:
    """What ``taken_by`` (the system, or the part of it that gets the file, as a
    bookkeeper knows it) takes: at most ``max_bytes``, of ``content_types``."""

    taken_by: str
    max_bytes: int
    content_types: frozenset[str] = PDF_JPEG_PNG

    def refusal(self, file: DocumentFileRef) -> PermanentError | None:
        """Why the system would refuse ``file`` (by its reference: the bytes read later
        are checked against it), naming the limit; None if it takes it."""
        if file.content_type not in self.content_types:
            return PermanentError(
                FailureCode.UNSUPPORTED_FILE_TYPE,
                f"{self.taken_by} takes {self._types()} files only; {file.filename!r} is "
                f"{file.content_type}. Post the document again with the file as "
                f"{self._types()}.",
            )
        if file.size > self.max_bytes:
            return PermanentError(
                FailureCode.FILE_TOO_LARGE,
                f"{self.taken_by} takes files of at most {self.max_bytes / MIB:g} MB "
                f"({self.max_bytes:,} bytes); {file.filename!r} has {file.size:,} bytes. Post "
                "the document again with a smaller file (for example a scan at a lower "
                "resolution).",
            )
        return None

    def _types(self) -> str:
        names = sorted(_TYPE_NAMES.get(t, t) for t in self.content_types)
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
