"""Where a page leads back to (``return_to``): only a path of the console itself, so a
link can never send the reader to another site (no open redirect)."""

from __future__ import annotations

from urllib.parse import urlsplit

CONSOLE = "/console"


def console_path(value: str | None) -> str | None:
    """``value`` when it is a path inside the console (with its query), else ``None``.

    Refused: absolute and scheme-relative URLs (``https://…``, ``//host``), backslashes
    (browsers read ``/\\host`` as ``//host``), control characters and paths outside
    ``/console``."""
    if not value or len(value) > 2000:
        return None
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or value.startswith("//"):
        return None
    if parts.path != CONSOLE and not parts.path.startswith(CONSOLE + "/"):
        return None
    if ".." in parts.path.split("/"):
        return None
    return value
