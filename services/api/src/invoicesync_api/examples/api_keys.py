"""Examples for a partner's API keys."""

from __future__ import annotations

from typing import Any

from fastapi.openapi.models import Example

from invoicesync_api.examples import story
from invoicesync_api.examples.media import named

KEY_ID = "3f9a1c27-5b8e-4d02-9e6f-1a7c4b2d8e90"
ROTATED_KEY_ID = "a41d7e03-6c92-4f5b-8b1e-2d9f0c7a6e15"
FIRST_KEY_ID = "c2e8b5f1-0a47-4e3d-9c6b-7f1a2d4e8b03"
# Shaped as the API hands them out (isk_ + 43 characters); not a key anywhere.
NEW_KEY = "isk_Qm3vT8xLw2pZr5Nc7HbK1dYf9GsJa4Ue6RiOt0XyPq8"
ROTATED_KEY = "isk_Zt5yB2nVc8xMq1Lp4Kw7Rj9Hd3Gf6Sa0EuIoTy2Wq5c"

KEY_IN: dict[str, Any] = {"name": "Dashboard (read only)", "scopes": ["read"]}
WRITER_IN: dict[str, Any] = {"name": "Invoicing backend", "scopes": ["read", "write"]}
KEY_OUT: dict[str, Any] = {
    "id": KEY_ID,
    "name": "Dashboard (read only)",
    "scopes": ["read"],
    "prefix": NEW_KEY[:10],
    "created_at": "2026-11-18T12:30:00Z",
    "expires_at": None,
    "last_used_at": "2026-11-20T14:03:27Z",
}
FIRST_KEY_OUT: dict[str, Any] = {
    "id": FIRST_KEY_ID,
    "name": "Initial key",
    "scopes": ["read", "write", "admin"],
    "prefix": story.API_KEY[:10],
    "created_at": "2026-11-18T09:55:00Z",
    "expires_at": None,
    "last_used_at": "2026-11-20T14:05:10Z",
}
KEY_CREATED: dict[str, Any] = {**KEY_OUT, "last_used_at": None, "api_key": NEW_KEY}
KEYS: dict[str, Example] = {
    "keys": named(
        "The partner's usable keys; secrets are never shown again",
        [FIRST_KEY_OUT, KEY_OUT],
    ),
}
ROTATE_IN: dict[str, Any] = {"overlap_seconds": 86400}
ROTATED: dict[str, Any] = {
    **KEY_OUT,
    "id": ROTATED_KEY_ID,
    "prefix": ROTATED_KEY[:10],
    "created_at": "2026-11-21T08:00:00Z",
    "last_used_at": None,
    "api_key": ROTATED_KEY,
    "previous": {**KEY_OUT, "expires_at": "2026-11-22T08:00:00Z"},
}
ROTATED_EXAMPLES: dict[str, Example] = {
    "rotated": named(
        "The new key, shown once; the old one works until previous.expires_at", ROTATED
    ),
}
