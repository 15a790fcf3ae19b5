"""OAuth 2 tokens of an integration: stored encrypted, refreshed by one replica at a time.

Exact rotates refresh tokens and only the newest pair is valid, so two replicas that
refresh at once would lock the client out. No row lock is held across the token call:

1. a short transaction takes a refresh lease on the integration row (holder id and an
   expiry on the database clock); a replica that finds a live lease waits for the new
   tokens (it polls the row) instead of refreshing too;
2. the token call runs outside any transaction;
3. the answer is stored first of all, with a compare-and-set on the refresh token it
   replaces (a reconnect meanwhile wins), and the lease is released.

A refused refresh (the refresh token is spent, expired or revoked) is remembered in the
stored credentials, so later calls fail at once instead of hammering the token endpoint,
and is raised as ``AuthorizationLost``; the runtime reports it and the API alone changes
the integration's status. A lost answer (timeout, connection dropped) is transient: the
next try sends the same refresh token, which either succeeds (the first call never got
through) or is refused as spent (it did) — then the grant is gone, as Exact allows no
recovery of a spent refresh token (see the sandbox's ``exact/tokens.py``).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared import clock
from invoicesync_shared.connectors.errors import AuthorizationLost, TransientError
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.engine import standalone
from invoicesync_shared.db.models import Integration
from invoicesync_shared.metrics import TOKEN_REFRESHES
from invoicesync_shared.states import IntegrationStatus

log = structlog.get_logger()

# Refresh this long before expiry, so a token never dies in the middle of a call.
EXPIRY_MARGIN = timedelta(seconds=30)


@dataclass(frozen=True)
class OAuthApp:
    """A registered OAuth application (ours) at one accounting system."""

    token_url: str
    client_id: str
    client_secret: str

    def client(self, **kwargs: Any) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            self.client_id,
            self.client_secret,
            token_endpoint_auth_method="client_secret_post",
            timeout=15.0,
            **kwargs,
        )


def token_fields(token: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Integration columns for a token response (``expires_in`` may be a string)."""
    expires_in = int(token.get("expires_in") or 600)
    return {"token_expires_at": now + timedelta(seconds=expires_in), "token_issued_at": now}


# How long a refresh may stay in flight before another replica takes over: longer than
# the token call's timeout (15 s), so a live holder is never overtaken.
REFRESH_LEASE = timedelta(seconds=45)
REFRESH_POLL_SECONDS = 0.2
REFUSED = "refused"  # key in the stored credentials: the grant was refused, don't retry
# How long a stored access token is used after the system refused its refresh as too early.
TRUST_WHEN_TOO_EARLY = timedelta(seconds=60)


@dataclass(frozen=True)
class _Lease:
    """A refresh this replica holds: what it refreshes and what it will replace."""

    holder: uuid.UUID
    refresh_token: str
    issued_at: datetime | None
    system: str


class TokenStore:
    """Hands out a valid access token for an integration, refreshing when needed."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        box: SecretBox,
        app: OAuthApp,
        *,
        lease: timedelta = REFRESH_LEASE,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._standalone = standalone(sessionmaker)  # one statement: one round trip
        self._box = box
        self._app = app
        self._lease = lease

    async def access_token(self, integration_id: uuid.UUID) -> str:
        async with self._standalone() as session:
            integration = await session.get(Integration, integration_id)
            if integration is None or integration.credentials is None:
                raise AuthorizationLost("the integration has no stored authorisation")
            stored = self._box.decrypt_json(integration.credentials)
            _raise_if_refused(integration, stored)
            if _is_fresh(integration):
                return str(stored["access_token"])
        return await self.refresh(integration_id, failed_token=None)

    async def issued_at(self, integration_id: uuid.UUID) -> datetime | None:
        """When the stored tokens were issued: names the grant a refusal other than the
        token endpoint's (a division no longer reachable) is about, so the API can tell
        a report about tokens replaced since (a reconnect) from news."""
        async with self._standalone() as session:
            integration = await session.get(Integration, integration_id)
            return integration.token_issued_at if integration is not None else None

    async def stored_token(self, integration_id: uuid.UUID) -> tuple[str, datetime | None] | None:
        """The access token stored now and when it was issued, without refreshing: after
        a 401 on a token just got, tells a grant refused from a token another replica
        has replaced meanwhile (None: no stored authorisation)."""
        async with self._standalone() as session:
            integration = await session.get(Integration, integration_id)
            if integration is None or integration.credentials is None:
                return None
            access = self._box.decrypt_json(integration.credentials).get("access_token")
            return (str(access), integration.token_issued_at) if access else None

    async def keep_alive(self, integration_id: uuid.UUID, *, refreshed_before: datetime) -> bool:
        """Refresh the grant if it was last refreshed before ``refreshed_before``, so an
        idle integration's refresh token never reaches its idle expiry; whether it was
        (by this call: one another replica made meanwhile is not ours to count)."""
        _, refreshed = await self._obtain(integration_id, None, refreshed_before)
        return refreshed

    async def refresh(
        self,
        integration_id: uuid.UUID,
        *,
        failed_token: str | None,
        refreshed_before: datetime | None = None,
    ) -> str:
        """A fresh access token: refreshed here under a lease, or by whoever holds it.

        ``failed_token`` is the token a 401 came back for: if the stored one differs,
        someone refreshed meanwhile and the stored one is used as it is. With
        ``refreshed_before`` (keep-alive), the grant is refreshed only when it was last
        refreshed earlier, and then whether or not its access token is still fresh.
        """
        token, _ = await self._obtain(integration_id, failed_token, refreshed_before)
        return token

    async def renew(self, integration_id: uuid.UUID, *, failed_token: str) -> tuple[str, bool]:
        """``refresh`` after a 401 on ``failed_token``, and whether the token endpoint gave
        the token to this call (else it is the stored one another replica got)."""
        return await self._obtain(integration_id, failed_token, None)

    async def _obtain(
        self,
        integration_id: uuid.UUID,
        failed_token: str | None,
        refreshed_before: datetime | None,
    ) -> tuple[str, bool]:
        """The token ``refresh`` returns, and whether this call refreshed it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2 * self._lease.total_seconds()
        while True:
            outcome = await self._take_lease(integration_id, failed_token, refreshed_before)
            if isinstance(outcome, _Lease):
                return await self._refresh_holding(integration_id, outcome, failed_token)
            if outcome is not None:
                return outcome, False
            if loop.time() > deadline:
                raise TransientError("another replica is still refreshing the token")
            await asyncio.sleep(REFRESH_POLL_SECONDS)

    async def _take_lease(
        self,
        integration_id: uuid.UUID,
        failed_token: str | None,
        refreshed_before: datetime | None = None,
    ) -> _Lease | str | None:
        """One short transaction: the stored token if it is usable, None while another
        replica's refresh is in flight, else a lease of our own."""
        async with self._sessionmaker.begin() as session:
            row = (
                await session.execute(
                    select(Integration, func.clock_timestamp())
                    .where(Integration.id == integration_id)
                    .with_for_update(of=Integration)
                )
            ).one_or_none()
            if row is None or row[0].credentials is None:
                raise AuthorizationLost("the integration has no stored authorisation")
            integration, db_now = row
            stored = self._box.decrypt_json(integration.credentials)
            _raise_if_refused(integration, stored)
            if refreshed_before is not None:  # keep-alive: only a grant idle that long
                issued = integration.token_issued_at
                if issued is not None and issued >= refreshed_before:
                    return str(stored["access_token"])
            elif stored["access_token"] != failed_token and _is_fresh(integration):
                return str(stored["access_token"])
            until = integration.token_refresh_until
            if until is not None and until > db_now:
                return None
            holder = uuid.uuid4()
            integration.token_refresh_holder = holder
            integration.token_refresh_until = db_now + self._lease
            return _Lease(
                holder,
                str(stored["refresh_token"]),
                integration.token_issued_at,
                integration.system,
            )

    async def _refresh_holding(
        self, integration_id: uuid.UUID, lease: _Lease, failed_token: str | None
    ) -> tuple[str, bool]:
        """The token, and whether the token endpoint gave a new one."""
        try:
            token = await self._request_refresh(lease.refresh_token)
        except _TooEarly as exc:
            # The system says the stored access token is still valid: our expiry was
            # reckoned by a clock ahead of its own. Use it a while (not after a 401 on it).
            trusted = await self._trust_stored(integration_id, lease, failed_token)
            if trusted is None:
                raise TransientError("token refresh too early", retry_after=30.0) from exc
            if trusted == failed_token:
                # Refused by the API, valid by the token endpoint: not an expiry.
                raise _refused_while_valid(lease) from exc
            return trusted, False
        except OAuthError as exc:
            await self._remember_refusal(integration_id, lease, exc)
            raise _lost(lease, exc) from exc
        except Exception:
            if failed_token is not None:
                await self._retire(integration_id, lease, failed_token)
            await self._release(integration_id, lease)  # (a dead holder's lease lapses)
            raise
        stored = await self._store(integration_id, lease, token)
        TOKEN_REFRESHES.labels(lease.system).inc()
        log.info("token refreshed", integration_id=str(integration_id), stored=stored)
        return str(token["access_token"]), True

    async def _store(self, integration_id: uuid.UUID, lease: _Lease, token: dict[str, Any]) -> bool:
        """The new pair replaces exactly the refresh token it was refreshed from (compared
        decrypted, so a key rotation meanwhile does not matter); if a reconnect replaced
        it, the newer grant stays and our pair serves this call only."""
        fresh = {"access_token": token["access_token"], "refresh_token": token["refresh_token"]}
        async with self._sessionmaker.begin() as session:
            integration = await self._still_ours(session, integration_id, lease)
            if integration is not None:
                integration.credentials = self._box.encrypt_json(fresh)
                for column, value in token_fields(token, clock.now()).items():
                    setattr(integration, column, value)
                _clear_lease(integration, lease)
        if integration is None:
            await self._release(integration_id, lease)
        return integration is not None

    async def _remember_refusal(
        self, integration_id: uuid.UUID, lease: _Lease, exc: OAuthError
    ) -> None:
        """Mark the stored credentials refused (a reconnect replaces them), so no replica
        asks the token endpoint again with a grant it already refused."""
        async with self._sessionmaker.begin() as session:
            integration = await self._still_ours(session, integration_id, lease)
            if integration is not None and integration.credentials is not None:
                stored = self._box.decrypt_json(integration.credentials)
                integration.credentials = self._box.encrypt_json({**stored, REFUSED: _refusal(exc)})
                _clear_lease(integration, lease)
        await self._release(integration_id, lease)

    async def _trust_stored(
        self, integration_id: uuid.UUID, lease: _Lease, failed_token: str | None
    ) -> str | None:
        """The stored access token, its expiry put ``TRUST_WHEN_TOO_EARLY`` ahead unless it
        is the one a 401 came back for; None when the row changed meanwhile."""
        async with self._sessionmaker.begin() as session:
            integration = await self._still_ours(session, integration_id, lease)
            if integration is None or integration.credentials is None:
                access = None
            else:
                stored = self._box.decrypt_json(integration.credentials)
                access = str(stored["access_token"])
                if access != failed_token:
                    integration.token_expires_at = clock.now() + TRUST_WHEN_TOO_EARLY
                _clear_lease(integration, lease)
        if integration is None:
            await self._release(integration_id, lease)
        return access

    async def _still_ours(
        self, session: AsyncSession, integration_id: uuid.UUID, lease: _Lease
    ) -> Integration | None:
        """The row, locked briefly, if it still holds the refresh token we used."""
        integration = await session.get(Integration, integration_id, with_for_update=True)
        if integration is None or integration.credentials is None:
            return None
        stored = self._box.decrypt_json(integration.credentials)
        return integration if stored.get("refresh_token") == lease.refresh_token else None

    async def _retire(self, integration_id: uuid.UUID, lease: _Lease, refused: str) -> None:
        """The stored access token came back 401 and no new one came: mark it expired, so
        the next call refreshes first instead of sending it again. Exact counts each 401
        towards its hour-long block, and a retried push would spend one per attempt."""
        async with self._sessionmaker.begin() as session:
            integration = await self._still_ours(session, integration_id, lease)
            if integration is None or integration.credentials is None:
                return
            if self._box.decrypt_json(integration.credentials).get("access_token") == refused:
                integration.token_expires_at = clock.now()

    async def _release(self, integration_id: uuid.UUID, lease: _Lease) -> None:
        async with self._sessionmaker.begin() as session:
            await session.execute(
                update(Integration)
                .where(
                    Integration.id == integration_id,
                    Integration.token_refresh_holder == lease.holder,
                )
                .values(token_refresh_holder=None, token_refresh_until=None)
            )

    async def _request_refresh(self, refresh_token: str) -> dict[str, Any]:
        """The token response; raises OAuthError when the grant itself is refused."""
        async with self._app.client() as client:
            try:
                token = await client.refresh_token(self._app.token_url, refresh_token=refresh_token)
            except OAuthError as exc:
                if "not expired" in (exc.description or ""):
                    # Exact refuses refreshes within ~570 s of the last one.
                    raise _TooEarly(str(exc)) from exc
                raise
            except Exception as exc:
                # No answer, or not one we can read: the token may or may not be spent.
                raise TransientError(f"token refresh failed: {exc.__class__.__name__}") from exc
        return dict(token)


class _TooEarly(Exception):
    """The token endpoint refused: the access token is not expired yet (its clock)."""


def _clear_lease(integration: Integration, lease: _Lease) -> None:
    if integration.token_refresh_holder == lease.holder:
        integration.token_refresh_holder = None
        integration.token_refresh_until = None


def _refusal(exc: OAuthError) -> str:
    """The refusal in words (Exact's description carries no secret)."""
    return f"{exc.error}: {exc.description}" if exc.description else str(exc.error)


def _lost(lease: _Lease, exc: OAuthError) -> AuthorizationLost:
    own_app = exc.error in ("invalid_client", "unauthorized_client")
    return AuthorizationLost(
        f"{lease.system} refused the stored authorisation ({_refusal(exc)}); "
        + ("check the app's client credentials" if own_app else "connect the integration again"),
        reason="client_refused" if own_app else "refresh_refused",
        status=IntegrationStatus.ERROR if own_app else IntegrationStatus.NEEDS_REAUTHORIZATION,
        credentials_issued_at=lease.issued_at,
        params={"said": _refusal(exc)},
    )


def _refused_while_valid(lease: _Lease) -> AuthorizationLost:
    """The API refused (401) the stored access token, and the token endpoint refused to
    replace it because that token is still valid: by the system's own clock this is no
    expiry but the authorisation refused."""
    return AuthorizationLost(
        f"{lease.system} refused an access token it still holds valid; "
        "connect the integration again",
        reason="authorization_refused",
        credentials_issued_at=lease.issued_at,
    )


def _raise_if_refused(integration: Integration, stored: dict[str, Any]) -> None:
    refusal = stored.get(REFUSED)
    if refusal:
        raise AuthorizationLost(
            f"{integration.system} refused the stored authorisation ({refusal}); "
            "connect the integration again",
            reason="refresh_refused",
            credentials_issued_at=integration.token_issued_at,
            params={"said": str(refusal)},
        )


def _is_fresh(integration: Integration) -> bool:
    expires = integration.token_expires_at
    return expires is not None and expires - EXPIRY_MARGIN > clock.now()
