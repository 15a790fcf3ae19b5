"""The OAuth host: ``/api/oauth2/auth`` (consent page, or an instant redirect with
auto-approve) and ``/api/oauth2/token`` (code exchange and refresh, form-encoded,
client credentials in the form or as HTTP Basic).
"""

from __future__ import annotations

import base64
import html
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from invoicesync_sandbox.exact.errors import OAuthError
from invoicesync_sandbox.exact.models import App
from invoicesync_sandbox.exact.store import ExactStore
from invoicesync_sandbox.exact.tokens import TokenService, token_response

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Exact Online (sandbox) - allow access</title></head>
<body><h1>Exact Online sandbox</h1>
<p><b>{app}</b> asks to access your Exact Online administrations as <b>{user}</b>.</p>
<form method="post" action="{action}">
{fields}
<button type="submit" name="decision" value="allow">Allow access</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form></body></html>
"""


class OAuthHost:
    def __init__(self, store: ExactStore, tokens: TokenService, auto_approve: bool) -> None:
        self.store = store
        self.tokens = tokens
        self.auto_approve = auto_approve

    def router(self) -> APIRouter:
        router = APIRouter()
        router.add_api_route("/api/oauth2/auth", self.authorize, methods=["GET"])
        router.add_api_route("/api/oauth2/auth", self.consent, methods=["POST"])
        router.add_api_route("/api/oauth2/token", self.token, methods=["POST"])
        return router

    async def authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        app, problem = self._check(params)
        if problem is not None:
            return problem
        assert app is not None
        if self.auto_approve:
            return await self._approve(app, params)
        fields = "\n".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        page = _PAGE.format(
            app=html.escape(app.name),
            user=html.escape(self.store.default_user.user_name),
            action=html.escape(request.url.path),
            fields=fields,
        )
        return HTMLResponse(page)

    async def consent(self, request: Request) -> Response:
        params = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        app, problem = self._check(params)
        if problem is not None:
            return problem
        assert app is not None
        if params.get("decision", "allow") != "allow":
            return _redirect(params["redirect_uri"], error="access_denied", state=params)
        return await self._approve(app, params)

    def _check(self, params: dict[str, str]) -> tuple[App | None, Response | None]:
        """Unknown clients and foreign redirect URIs get an error page, never a redirect."""
        app = self.store.apps.get(params.get("client_id", ""))
        if app is None:
            return None, _error_page("The client_id is unknown.")
        if params.get("redirect_uri") != app.redirect_uri:
            return None, _error_page("The redirect_uri does not match the registered one.")
        if params.get("response_type", "code") != "code":
            redirect = _redirect(app.redirect_uri, error="unsupported_response_type", state=params)
            return None, redirect
        return app, None

    async def _approve(self, app: App, params: dict[str, str]) -> Response:
        async with self.store.lock:
            code = self.tokens.issue_code(app, app.redirect_uri, self.store.default_user)
        return _redirect(app.redirect_uri, code=code, state=params)

    async def token(self, request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        client_id, client_secret = _client_credentials(request, form)
        try:
            async with self.store.lock:
                app = self.tokens.client(client_id, client_secret)
                grant = form.get("grant_type")
                if grant == "authorization_code":
                    chain = self.tokens.exchange_code(
                        app, form.get("code"), form.get("redirect_uri")
                    )
                elif grant == "refresh_token":
                    chain = self.tokens.refresh(app, form.get("refresh_token"))
                else:
                    raise OAuthError(400, "unsupported_grant_type", "Unsupported grant_type.")
                body = token_response(chain)
        except OAuthError as exc:
            return exc.response()
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and encoded:
        try:
            decoded = base64.b64decode(encoded).decode()
        except (ValueError, UnicodeDecodeError):
            return None, None
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return form.get("client_id"), form.get("client_secret")


def _redirect(uri: str, state: dict[str, str], **params: str) -> RedirectResponse:
    if "state" in state:
        params["state"] = state["state"]
    separator = "&" if "?" in uri else "?"
    return RedirectResponse(f"{uri}{separator}{urlencode(params)}", status_code=302)


def _error_page(message: str) -> HTMLResponse:
    body = f"<!doctype html><html><body><h1>Error</h1><p>{html.escape(message)}</p></body></html>"
    return HTMLResponse(body, status_code=400)
