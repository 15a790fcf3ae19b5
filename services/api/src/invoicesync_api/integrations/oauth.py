"""The OAuth 2 authorization-code dance for Exact and Lexware.

The state parameter is random, bound to one integration (only its hash is stored) and
single-use: the callback clears it.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any
from urllib.parse import urlencode

from authlib.integrations.base_client.errors import OAuthError

from invoicesync_api.errors.exceptions import ConnectionFailed
from invoicesync_api.settings import ApiSettings
from invoicesync_shared import clock
from invoicesync_shared.connectors.oauth import OAuthApp, token_fields

OAUTH_SYSTEMS = ("exact", "lexware")
# Begins the state of a connection started in the console: the callback then leads the
# browser back there. Part of the hashed value, so it cannot be added or removed.
CONSOLE_STATE = "console."


def new_state(*, console: bool = False) -> tuple[str, str]:
    """A state value and the hash stored to recognise it."""
    state = (CONSOLE_STATE if console else "") + secrets.token_urlsafe(32)
    return state, state_hash(state)


def from_console(state: str) -> bool:
    return state.startswith(CONSOLE_STATE)


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def oauth_app(settings: ApiSettings, system: str) -> OAuthApp:
    if system == "exact":
        return OAuthApp(
            f"{settings.exact_url()}/api/oauth2/token",
            settings.exact_client_id,
            settings.exact_client_secret.get_secret_value(),
        )
    return OAuthApp(
        f"{settings.lexware_auth_url()}/api/oauth2/token",
        settings.lexware_client_id,
        settings.lexware_client_secret.get_secret_value(),
    )


def authorize_url(settings: ApiSettings, system: str, state: str) -> str:
    base, path, client_id = {
        "exact": (settings.exact_url(), "/api/oauth2/auth", settings.exact_client_id),
        "lexware": (
            settings.lexware_auth_url(),
            "/api/oauth2/authorize",
            settings.lexware_client_id,
        ),
    }[system]
    query = {
        "client_id": client_id,
        "redirect_uri": settings.redirect_uri(),
        "response_type": "code",
        "state": state,
    }
    return f"{base}{path}?{urlencode(query)}"


async def exchange_code(
    settings: ApiSettings, system: str, code: str
) -> tuple[dict[str, str], dict[str, Any]]:
    """Tokens to encrypt, and the integration columns that record their lifetime."""
    app = oauth_app(settings, system)
    async with app.client() as client:
        try:
            token = await client.fetch_token(
                app.token_url,
                grant_type="authorization_code",
                code=code,
                redirect_uri=settings.redirect_uri(),
            )
        except OAuthError as exc:
            raise ConnectionFailed(_refusal(system, exc)) from exc
    credentials = {"access_token": token["access_token"], "refresh_token": token["refresh_token"]}
    # Dated by the shared clock, as the connectors judge a token's age: a token dated by
    # another clock looks expired (or fresh) to them.
    return credentials, token_fields(dict(token), clock.now())


def _refusal(system: str, exc: OAuthError) -> str:
    """What the person who allowed access reads; the state stays valid (the callback's
    transaction rolls back), so the same authorisation link can be followed again."""
    if system == "exact" and "chainId" in (exc.description or ""):
        return (
            "Exact Online refused this authorisation because another one for the same Exact "
            "user was started after it (two connection windows open at once). Open the "
            "authorisation link again and allow access in one window at a time."
        )
    return f"{system} refused the authorisation code ({exc.error})."
