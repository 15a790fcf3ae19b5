"""The console's session: the partner's API key, sealed in a cookie.

The key is encrypted and authenticated with the app's ``SecretBox`` (Fernet, the keys
that encrypt credentials at rest), so the cookie never shows it and cannot be forged;
each request opens it and checks the key again exactly as the API does (revoked keys,
rate limits, the failed-authentication slow-down). The cookie is http-only,
SameSite=Lax, and Secure except on plain http to a loopback address (``make run``).
Each session carries a random token that every form posts back (``csrf``)."""

from __future__ import annotations

import ipaddress
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request, Response

from invoicesync_api.deps import get_box
from invoicesync_shared import clock

COOKIE = "invoicesync_console"
PATH = "/console"
MAX_AGE = timedelta(hours=12)


@dataclass(frozen=True)
class Session:
    api_key: str
    csrf: str
    issued_at: float


def is_loopback_http(request: Request) -> bool:
    """Plain http to 127.0.0.0/8, ::1 or localhost: a browser would drop a Secure cookie
    there, and nothing leaves the machine."""
    if request.url.scheme != "http":
        return False
    host = request.url.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def start(request: Request, response: Response, api_key: str) -> Session:
    session = Session(api_key, secrets.token_urlsafe(24), clock.now().timestamp())
    sealed = get_box(request).encrypt(
        json.dumps({"k": session.api_key, "c": session.csrf, "t": session.issued_at}).encode()
    )
    response.set_cookie(
        COOKIE,
        sealed.decode(),
        max_age=int(MAX_AGE.total_seconds()),
        path=PATH,
        httponly=True,
        samesite="lax",
        secure=not is_loopback_http(request),
    )
    return session


def read(request: Request) -> Session | None:
    """The request's session; None when there is none, it is not ours, or it is older
    than ``MAX_AGE`` by the shared clock."""
    sealed = request.cookies.get(COOKIE)
    if not sealed:
        return None
    try:
        raw = json.loads(get_box(request).decrypt(sealed.encode()))
        session = Session(str(raw["k"]), str(raw["c"]), float(raw["t"]))
    except (ValueError, KeyError, TypeError):
        return None
    if clock.now().timestamp() - session.issued_at > MAX_AGE.total_seconds():
        return None
    return session


def end(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE, path=PATH, httponly=True, samesite="lax", secure=not is_loopback_http(request)
    )
