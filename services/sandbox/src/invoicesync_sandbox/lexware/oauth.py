"""Partner OAuth2 (authorization code) as the Lexware Office host offers it to plugins.

``/api/oauth2/authorize`` shows an "allow access" page (or approves at once with
auto-approve) and ``/api/oauth2/token`` swaps codes and refresh tokens for access tokens.

Unverified, all of it but the two paths: Lexware publishes the partner flow only to
registered partners, so the access token's lifetime (an hour here), the code's (ten
minutes), the refresh token's rules and the scope names below are the sandbox's own
choices, not Lexware's. The connector relies on none of them: it refreshes on a 401 and
before the ``expires_in`` the answer gives, and keeps a grant alive well inside 30 days.
"""

from __future__ import annotations

import base64
import html
import secrets
import threading
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from invoicesync_sandbox.context import SandboxContext
from invoicesync_sandbox.lexware.store import Organisation, Store

ACCESS_TOKEN_SECONDS = 3600
CODE_SECONDS = 600
SCOPE = "profile.read contacts.read contacts.write invoices.read invoices.write"


@dataclass
class App:
    client_id: str
    client_secret: str
    redirect_uri: str
    name: str


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    org_id: str
    expires: float


@dataclass
class AccessToken:
    client_id: str
    org_id: str
    expires: float


@dataclass
class OAuthState:
    """Registered apps and every code, access token and refresh token handed out."""

    apps: dict[str, App] = field(default_factory=dict)
    codes: dict[str, Grant] = field(default_factory=dict)
    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, tuple[str, str]] = field(default_factory=dict)  # token -> (client, org)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def register(
        self,
        name: str,
        redirect_uri: str,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> App:
        app = App(
            client_id=client_id or f"lxo-{secrets.token_hex(8)}",
            client_secret=client_secret or secrets.token_urlsafe(24),
            redirect_uri=redirect_uri,
            name=name,
        )
        self.apps[app.client_id] = app
        return app

    def issue(
        self, client_id: str, org_id: str, now: float, refresh: str | None = None
    ) -> dict[str, Any]:
        token = secrets.token_urlsafe(32)
        refresh = refresh or secrets.token_urlsafe(40)
        with self.lock:
            self.access[token] = AccessToken(client_id, org_id, now + ACCESS_TOKEN_SECONDS)
            self.refresh[refresh] = (client_id, org_id)
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
            "refresh_token": refresh,
            "scope": SCOPE,
        }

    def expire(self, org_id: str | None, now: float) -> int:
        """Make matching access tokens expired at once; returns how many."""
        hits = [t for t in self.access.values() if org_id in (None, t.org_id)]
        for token in hits:
            token.expires = now - 1
        return len(hits)

    def revoke(self, org_id: str | None) -> int:
        """Drop access and refresh tokens (the user disconnected the app)."""
        with self.lock:
            gone_access = [k for k, t in self.access.items() if org_id in (None, t.org_id)]
            gone_refresh = [k for k, v in self.refresh.items() if org_id in (None, v[1])]
            for key in gone_access:
                del self.access[key]
            for key in gone_refresh:
                del self.refresh[key]
        return len(gone_refresh)


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _redirect(uri: str, params: dict[str, str | None]) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    sep = "&" if "?" in uri else "?"
    return RedirectResponse(f"{uri}{sep}{query}", status_code=302)


def _consent_page(app: App, orgs: list[Organisation], params: dict[str, str]) -> str:
    options = "".join(
        f'<option value="{html.escape(o.id)}">{html.escape(o.company_name)}</option>' for o in orgs
    )
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in params.items()
    )
    return (
        "<!doctype html><html><head><title>Lexware Office - Zugriff erlauben</title></head>"
        f"<body><h1>{html.escape(app.name)} möchte auf Lexware Office zugreifen</h1>"
        f'<form method="post" action="authorize">{hidden}'
        f'<label>Organisation <select name="organization_id">{options}</select></label>'
        '<button type="submit" name="decision" value="allow">Zugriff erlauben</button>'
        '<button type="submit" name="decision" value="deny">Ablehnen</button>'
        "</form></body></html>"
    )


def _client_credentials(
    request: Request, form_id: str | None, form_secret: str | None
) -> tuple[str | None, str | None]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:]).decode()
            client_id, _, secret = decoded.partition(":")
            return client_id, secret
        except (ValueError, UnicodeDecodeError):
            return None, None
    return form_id, form_secret


class OAuthServer:
    """The authorize and token endpoints over one :class:`OAuthState`."""

    def __init__(self, ctx: SandboxContext, store: Store, state: OAuthState) -> None:
        self.ctx = ctx
        self.store = store
        self.state = state
        self.demo_org: str | None = None

    def demo_org_id(self) -> str | None:
        return self.demo_org or next(iter(self.store.orgs), None)

    def _check_app(self, client_id: str, redirect_uri: str | None) -> App | Response:
        app = self.state.apps.get(client_id)
        if app is None:
            return _oauth_error("invalid_client", "Unknown client_id.")
        if redirect_uri and redirect_uri != app.redirect_uri:
            return _oauth_error("invalid_request", "redirect_uri does not match the app.")
        return app

    def _approve(self, app: App, org_id: str, state: str | None) -> Response:
        if self.store.get_org(org_id) is None:
            return _oauth_error("invalid_request", "Unknown organization_id.")
        code = secrets.token_urlsafe(24)
        with self.state.lock:
            self.state.codes[code] = Grant(
                app.client_id, app.redirect_uri, org_id, self.ctx.clock.now() + CODE_SECONDS
            )
        return _redirect(app.redirect_uri, {"code": code, "state": state})

    def authorize(
        self,
        client_id: str,
        response_type: str,
        redirect_uri: str | None,
        state: str | None,
        organization_id: str | None,
    ) -> Response:
        app = self._check_app(client_id, redirect_uri)
        if isinstance(app, Response):
            return app
        if response_type != "code":
            return _redirect(
                app.redirect_uri, {"error": "unsupported_response_type", "state": state}
            )
        if self.ctx.settings.auto_approve:
            org_id = organization_id or self.demo_org_id()
            if org_id is None:
                return _oauth_error("invalid_request", "No organisation to connect.")
            return self._approve(app, org_id, state)
        params = {"client_id": client_id, "redirect_uri": app.redirect_uri, "state": state or ""}
        orgs = [o for o in self.store.orgs.values() if organization_id in (None, o.id)]
        return HTMLResponse(_consent_page(app, orgs, params))

    def consent(
        self,
        client_id: str,
        organization_id: str,
        decision: str,
        redirect_uri: str | None,
        state: str | None,
    ) -> Response:
        app = self._check_app(client_id, redirect_uri)
        if isinstance(app, Response):
            return app
        if decision != "allow":
            return _redirect(app.redirect_uri, {"error": "access_denied", "state": state})
        return self._approve(app, organization_id, state)

    def token(self, request: Request, form: dict[str, str | None]) -> Response:
        cid, secret = _client_credentials(request, form["client_id"], form["client_secret"])
        app = self.state.apps.get(cid or "")
        if app is None or not secrets.compare_digest(app.client_secret, secret or ""):
            return _oauth_error("invalid_client", "Client authentication failed.", 401)
        grant_type = form["grant_type"]
        if grant_type == "authorization_code":
            return self._exchange_code(app, form["code"], form["redirect_uri"])
        if grant_type == "refresh_token":
            return self._refresh(app, form["refresh_token"])
        return _oauth_error("unsupported_grant_type", f"grant_type {grant_type!r}.")

    def router(self) -> APIRouter:
        router = APIRouter(prefix="/api/oauth2", tags=["lexware-oauth"])

        @router.get("/authorize", response_model=None)
        async def authorize(
            client_id: str,
            response_type: str = "code",
            redirect_uri: str | None = None,
            state: str | None = None,
            organization_id: str | None = None,
        ) -> Response:
            return self.authorize(client_id, response_type, redirect_uri, state, organization_id)

        @router.post("/authorize", response_model=None)
        async def consent(
            client_id: Annotated[str, Form()],
            organization_id: Annotated[str, Form()],
            decision: Annotated[str, Form()] = "allow",
            redirect_uri: Annotated[str | None, Form()] = None,
            state: Annotated[str | None, Form()] = None,
        ) -> Response:
            return self.consent(client_id, organization_id, decision, redirect_uri, state or None)

        @router.post("/token", response_model=None)
        async def token(
            request: Request,
            grant_type: Annotated[str, Form()],
            code: Annotated[str | None, Form()] = None,
            redirect_uri: Annotated[str | None, Form()] = None,
            refresh_token: Annotated[str | None, Form()] = None,
            client_id: Annotated[str | None, Form()] = None,
            client_secret: Annotated[str | None, Form()] = None,
        ) -> Response:
            form = {
                "grant_type": grant_type,
                "code": code,
                "redirect_uri": redirect_uri,
                "refresh_token": refresh_token,
                "client_id": client_id,
                "client_secret": client_secret,
            }
            return self.token(request, form)

        return router

    def _exchange_code(self, app: App, code: str | None, redirect_uri: str | None) -> Response:
        with self.state.lock:
            grant = self.state.codes.pop(code or "", None)
        if grant is None or grant.client_id != app.client_id:
            return _oauth_error("invalid_grant", "Unknown or used authorization code.")
        if grant.expires < self.ctx.clock.now():
            return _oauth_error("invalid_grant", "Authorization code expired.")
        if redirect_uri is not None and redirect_uri != grant.redirect_uri:
            return _oauth_error("invalid_grant", "redirect_uri does not match.")
        body = self.state.issue(app.client_id, grant.org_id, self.ctx.clock.now())
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    def _refresh(self, app: App, refresh_token: str | None) -> Response:
        owner = self.state.refresh.get(refresh_token or "")
        if owner is None or owner[0] != app.client_id:
            return _oauth_error("invalid_grant", "Unknown or revoked refresh token.")
        # Lexware refresh tokens stay valid until revoked; the same one is returned.
        body = self.state.issue(app.client_id, owner[1], self.ctx.clock.now(), refresh_token)
        return JSONResponse(body, headers={"Cache-Control": "no-store"})
