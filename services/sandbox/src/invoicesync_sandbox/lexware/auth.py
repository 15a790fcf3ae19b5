"""Who is calling ``/v1``: a public-API key or a partner access token, then the rate limit.

The dependency runs before every handler, so a 401 or 429 never touches any state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from invoicesync_sandbox.clock import Clock
from invoicesync_sandbox.lexware.errors import LexwareError
from invoicesync_sandbox.lexware.oauth import OAuthState
from invoicesync_sandbox.lexware.rate_limit import TokenBuckets
from invoicesync_sandbox.lexware.store import Organisation, Store


@dataclass
class Caller:
    org: Organisation
    client_key: str  # rate-limit bucket: the API key, or OAuth client + organisation


def _unauthorized(message: str = "Unauthorized") -> LexwareError:
    return LexwareError(401, message, headers={"WWW-Authenticate": "Bearer"})


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized()
    return token.strip()


def make_caller_dependency(
    store: Store, oauth: OAuthState, buckets: TokenBuckets, clock: Clock
) -> Callable[[Request], Awaitable[Caller]]:
    """A FastAPI dependency resolving the Bearer token to a :class:`Caller`."""

    def resolve(token: str) -> Caller:
        org = store.org_by_key(token)
        if org is not None:
            return Caller(org, f"key:{token}")
        access = oauth.access.get(token)
        if access is None:
            raise _unauthorized()
        if access.expires <= clock.now():
            raise _unauthorized("Access token expired")
        org = store.get_org(access.org_id)
        if org is None:
            raise _unauthorized()
        return Caller(org, f"oauth:{access.client_id}:{org.id}")

    async def caller(request: Request) -> Caller:
        found = resolve(_bearer(request))
        request.state.legacy_errors = found.org.legacy_errors
        if not buckets.take(found.client_key):
            raise LexwareError(429, "Rate limit exceeded. Too many requests per second.")
        return found

    return caller
