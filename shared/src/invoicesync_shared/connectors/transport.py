"""What a lost HTTP exchange means, the same for every connector: a write that may have
reached the system has an unknown outcome; a request that never left is just transient."""

from __future__ import annotations

import httpx

from invoicesync_shared.connectors.errors import SyncError, TransientError, UnknownOutcome

# Raised before a single byte of the request went out: the system cannot have acted.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def transport_error(exc: httpx.TransportError, *, is_write: bool, system: str) -> SyncError:
    if is_write and not isinstance(exc, NEVER_SENT):
        return UnknownOutcome(f"no answer from {system} to a write ({exc.__class__.__name__})")
    return TransientError(f"{system} unreachable ({exc.__class__.__name__})")
