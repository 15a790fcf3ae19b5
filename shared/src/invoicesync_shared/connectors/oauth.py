"""OAuth 2 tokens of an integration: stored encrypted, refreshed under a row lock.

Exact rotates refresh tokens and only the newest pair is valid, so two replicas that
refresh at once would lock the client out: the refresh runs while holding the
integration row (SELECT … FOR UPDATE), and whoever gets the lock second finds a fresh
token already stored and uses it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.errors import AuthorizationLost, TransientError
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.models import Integration

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


class TokenStore:
    """Hands out a valid access token for an integration, refreshing when needed."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], box: SecretBox, app: OAuthApp
    ) -> None:
        self._sessionmaker = sessionmaker
        self._box = box
        self._app = app
        self.refreshes = 0  # for tests and metrics

    async def access_token(self, integration_id: uuid.UUID) -> str:
        async with self._sessionmaker() as session:
            integration = await session.get(Integration, integration_id)
            if integration is None or integration.credentials is None:
                raise AuthorizationLost("the integration has no stored authorisation")
            if _is_fresh(integration):
                return str(self._box.decrypt_json(integration.credentials)["access_token"])
        return await self.refresh(integration_id, failed_token=None)

    async def send_authorized(
        self, integration_id: uuid.UUID, send: Callable[[str], Awaitable[httpx.Response]]
    ) -> httpx.Response:
        """Call ``send`` with a valid access token; on a 401, refresh once (serialised across
        replicas) and call again. Raises AuthorizationLost when the refresh is refused."""
        token = await self.access_token(integration_id)
        response = await send(token)
        if response.status_code == 401:
            token = await self.refresh(integration_id, failed_token=token)
            response = await send(token)
        return response

    async def refresh(self, integration_id: uuid.UUID, *, failed_token: str | None) -> str:
        """Refresh under the row lock, unless another holder already did.

        ``failed_token`` is the token a 401 came back for: if the stored one differs,
        someone refreshed meanwhile and the stored one is used as it is.
        """
        async with self._sessionmaker.begin() as session:
            integration = await session.scalar(
                select(Integration).where(Integration.id == integration_id).with_for_update()
            )
            if integration is None or integration.credentials is None:
                raise AuthorizationLost("the integration has no stored authorisation")
            stored = self._box.decrypt_json(integration.credentials)
            if stored["access_token"] != failed_token and _is_fresh(integration):
                return str(stored["access_token"])
            try:
                token = await self._request_refresh(stored["refresh_token"])
            except OAuthError as exc:
                # Committed with the lock still held, then raised: no retry storm.
                integration.status = "needs_reauthorization"
                integration.status_reason = f"the refresh was refused ({exc.error})"
                refused: OAuthError | None = exc
            else:
                refused = None
                now = datetime.now(UTC)
                integration.credentials = self._box.encrypt_json(
                    {"access_token": token["access_token"], "refresh_token": token["refresh_token"]}
                )
                for column, value in token_fields(token, now).items():
                    setattr(integration, column, value)
                self.refreshes += 1
        if refused is not None:
            raise AuthorizationLost(
                f"{integration.system} refused the stored authorisation ({refused.error}); "
                "connect the integration again"
            )
        log.info("token refreshed", integration_id=str(integration_id))
        return str(token["access_token"])

    async def _request_refresh(self, refresh_token: str) -> dict[str, Any]:
        """The token response; raises OAuthError when the grant itself is refused."""
        async with self._app.client() as client:
            try:
                token = await client.refresh_token(self._app.token_url, refresh_token=refresh_token)
            except OAuthError as exc:
                if "not expired" in (exc.description or ""):
                    # Exact refuses refreshes within ~570 s of the last one.
                    raise TransientError("token refresh too early", retry_after=30.0) from exc
                raise
            except Exception as exc:
                raise TransientError(f"token refresh failed: {exc.__class__.__name__}") from exc
        return dict(token)


def _is_fresh(integration: Integration) -> bool:
    expires = integration.token_expires_at
    return expires is not None and expires - EXPIRY_MARGIN > datetime.now(UTC)
