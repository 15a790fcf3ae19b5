"""The file types the emulators accept as a document's original (pdf, jpg, png), by content.

A file is what its first bytes say, not what its name or content type claims; emulators
that take a content type or a file name check that it agrees with this.
"""

from __future__ import annotations

MAGIC: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}
EXTENSIONS: dict[str, str] = {
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}


def sniff(data: bytes) -> str | None:
    """The content type ``data`` starts like, or ``None`` for anything else."""
    return next((kind for kind, marks in MAGIC.items() if data.startswith(marks)), None)


def by_name(file_name: str) -> str | None:
    """The content type a file name's extension stands for, or ``None``."""
    dot = file_name.rfind(".")
    return None if dot < 0 else EXTENSIONS.get(file_name[dot:].lower())
