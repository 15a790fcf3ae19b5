"""The second half of a sandbox's OAuth dance, alike for every system: the code the
consent redirected with is redeemed at the token endpoint."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx


def redeem(
    redirected: httpx.Response,
    token_url: str,
    *,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
) -> dict[str, Any]:
    """The token answer for the code in ``redirected``'s location (read, not followed)."""
    assert redirected.status_code in (302, 303), redirected.text
    code = parse_qs(urlparse(redirected.headers["location"]).query)["code"][0]
    token = httpx.post(
        token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "client_secret": client_secret,
        },
    )
    assert token.status_code == 200, token.text
    return dict(token.json())
