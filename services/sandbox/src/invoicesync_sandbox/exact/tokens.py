"""Exact's OAuth token rules: codes, chains of single-use rotating refresh tokens, the
570-second refresh floor, 600-second access tokens and 30-day refresh expiry.

Each code exchange starts its own chain; only a chain's newest pair is valid.

What the emulator relies on (verified = Exact's documentation or several independent
sources; unverified = one source, or none, so the emulator takes the strict reading):

- verified: a refresh returns a new access token (``expires_in`` "600", a string) and a
  new refresh token; since 31 Dec 2018 a refresh token works once (Exact's mail to app
  developers, quoted in picqer/exact-php-client issues 300 and 311).
- verified: a refresh within about 570 s of the last issue is refused with 400
  ``access_denied`` "Rate limit exceeded: access_token not expired" and the header
  ``Reason: TooEarlyToRefreshTokens``; the refused call spends nothing.
- verified: a refresh token unused for 30 days is refused with 400 ``invalid_request``
  "The refresh token expired at …".
- unverified (body and status): re-using a spent refresh token is refused with
  ``invalid_grant`` "Old refresh token used." — reports show it as 400 and as 401
  (picqer/exact-php-client issues 549, 640). The emulator answers 400.
- verified: the token endpoint takes at most 200 calls per app, per user, per day. What
  the 201st gets is not published (unverified); the emulator refuses it with 429
  ``access_denied`` and issues nothing, counting per sandbox day (UTC).
- unverified (documented by no one; seen in client libraries' issue threads, and Exact's
  support explained it as several authorisation requests made at once, then an older
  code exchanged): overlapping authorisations of one app for one user fail with 400
  ``invalid_grant`` "Token is not allowed, because of invalid or empty chainId". The
  emulator is strict: once a newer code was issued to the app for the same user, an
  older code is refused so (and spent), whether or not the newer one was exchanged.
- unverified: whether the access token issued before a refresh stays valid for the rest
  of its ten minutes. Exact documents nothing; one integrator (Invantive) says an access
  token lives ten minutes whatever happens, and that Exact may allow old refresh tokens
  for some apps. The emulator is strict: a refresh retires the previous pair at once
  (access and refresh token), and no grace period exists for a spent refresh token
  (unlike, e.g., Xero's 30 minutes). So a refresh whose answer is lost after Exact
  committed it cannot be recovered: the client must be authorised again.
"""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime

from invoicesync_sandbox.clock import Clock
from invoicesync_sandbox.exact.errors import OAuthError
from invoicesync_sandbox.exact.models import App, AuthCode, TokenChain, User
from invoicesync_sandbox.exact.store import ExactStore

ACCESS_LIFETIME = 600.0
REFRESH_FLOOR = 570.0
REFRESH_LIFETIME = 30 * 86_400.0
CODE_LIFETIME = 300.0
DAILY_TOKEN_CALLS = 200
CHAIN_REFUSED = "Token is not allowed, because of invalid or empty chainId"


@dataclass
class Principal:
    """Who a valid access token acts for."""

    chain: TokenChain
    user: User


def token_response(chain: TokenChain) -> dict[str, str]:
    return {
        "access_token": chain.access_token,
        "token_type": "bearer",
        "expires_in": str(int(ACCESS_LIFETIME)),
        "refresh_token": chain.refresh_token,
    }


class TokenService:
    def __init__(self, store: ExactStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.daily_limit = DAILY_TOKEN_CALLS
        self._calls: Counter[tuple[str, uuid.UUID, date]] = Counter()

    def _count_call(self, app: App, user_id: uuid.UUID) -> None:
        """One token call of the app for the user today; refused past the daily limit."""
        key = (app.client_id, user_id, datetime.fromtimestamp(self.clock.now(), UTC).date())
        if self._calls[key] >= self.daily_limit:
            raise OAuthError(
                429,
                "access_denied",
                f"Rate limit exceeded: at most {self.daily_limit} token requests per app, "
                "per user, per day",
            )
        self._calls[key] += 1

    def reset_counters(self) -> None:
        self._calls.clear()

    def issue_code(self, app: App, redirect_uri: str, user: User) -> str:
        code = secrets.token_urlsafe(32)
        expires = self.clock.now() + CODE_LIFETIME
        self.store.tokens.codes[code] = AuthCode(
            code, app.client_id, redirect_uri, user.user_id, expires
        )
        self.store.tokens.newest_code[(app.client_id, user.user_id)] = code
        return code

    def client(self, client_id: str | None, client_secret: str | None) -> App:
        app = self.store.apps.get(client_id or "")
        if app is None or not secrets.compare_digest(app.client_secret, client_secret or ""):
            raise OAuthError(400, "invalid_client", "Invalid client credentials.")
        return app

    def exchange_code(self, app: App, code: str | None, redirect_uri: str | None) -> TokenChain:
        grant = self.store.tokens.codes.pop(code or "", None)
        if grant is None or grant.expires_at <= self.clock.now():
            raise OAuthError(400, "invalid_grant", "The authorization code is invalid or expired.")
        if grant.client_id != app.client_id or grant.redirect_uri != redirect_uri:
            raise OAuthError(400, "invalid_grant", "The redirect_uri or client does not match.")
        if self.store.tokens.newest_code.get((app.client_id, grant.user_id)) != grant.code:
            raise OAuthError(400, "invalid_grant", CHAIN_REFUSED)
        self._count_call(app, grant.user_id)
        now = self.clock.now()
        chain = TokenChain(
            chain_id=uuid.uuid4(),
            client_id=app.client_id,
            user_id=grant.user_id,
            access_token=_token(),
            refresh_token=_token(),
            issued_at=now,
            access_expires_at=now + ACCESS_LIFETIME,
            refresh_expires_at=now + REFRESH_LIFETIME,
        )
        self.store.tokens.add(chain)
        return chain

    def refresh(self, app: App, refresh_token: str | None) -> TokenChain:
        tokens = self.store.tokens
        token = refresh_token or ""
        if token in tokens.stale_refresh:
            raise OAuthError(400, "invalid_grant", "Old refresh token used.")
        chain_id = tokens.by_refresh.get(token)
        chain = tokens.chains.get(chain_id) if chain_id else None
        if chain is None or chain.revoked or chain.client_id != app.client_id:
            raise OAuthError(400, "invalid_grant", "The refresh token is invalid.")
        self._count_call(app, chain.user_id)
        now = self.clock.now()
        self._check_refresh_allowed(chain, now)
        tokens.rotate(chain, _token(), _token())
        chain.issued_at = now
        chain.access_expires_at = now + ACCESS_LIFETIME
        chain.refresh_expires_at = now + REFRESH_LIFETIME
        return chain

    def _check_refresh_allowed(self, chain: TokenChain, now: float) -> None:
        if now >= chain.refresh_expires_at:
            expired = datetime.fromtimestamp(chain.refresh_expires_at, UTC)
            raise OAuthError(
                400, "invalid_request", f"The refresh token expired at {expired:%Y-%m-%d %H:%M:%S}."
            )
        if now - chain.issued_at < REFRESH_FLOOR:
            raise OAuthError(
                400,
                "access_denied",
                "Rate limit exceeded: access_token not expired",
                reason="TooEarlyToRefreshTokens",
            )

    def authenticate(self, access_token: str) -> Principal | None:
        """The principal of a valid, current, unexpired access token; None otherwise."""
        chain_id = self.store.tokens.by_access.get(access_token)
        chain = self.store.tokens.chains.get(chain_id) if chain_id else None
        if chain is None or chain.revoked or self.clock.now() >= chain.access_expires_at:
            return None
        return Principal(chain, self.store.users[chain.user_id])

    def expire(self, chain: TokenChain) -> None:
        """End the access token now and age the pair so a refresh is allowed at once."""
        now = self.clock.now()
        chain.access_expires_at = now
        chain.issued_at = min(chain.issued_at, now - ACCESS_LIFETIME)

    def revoke(self, chain: TokenChain) -> None:
        chain.revoked = True


def _token() -> str:
    return secrets.token_urlsafe(48)
