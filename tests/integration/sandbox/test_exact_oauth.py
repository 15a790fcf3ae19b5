"""Exact emulator OAuth: consent redirect, code exchange and the token rotation rules."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from invoicesync_sandbox.main import create_app
from invoicesync_sandbox.settings import SandboxSettings

AUTH = "/exact/api/oauth2/auth"
TOKEN = "/exact/api/oauth2/token"
ME = "/exact/api/v1/current/Me"


@pytest.fixture(scope="module")
def http(sandbox_url: str) -> httpx.Client:
    return httpx.Client(base_url=sandbox_url, timeout=10)


@pytest.fixture(scope="module")
def app(http: httpx.Client) -> dict[str, str]:
    test_app: dict[str, str] = http.get("/_sandbox/demo").json()["exact"]["test_app"]
    return test_app


def code_for(http: httpx.Client, app: dict[str, str], state: str = "s1") -> str:
    params = {
        "client_id": app["client_id"],
        "redirect_uri": app["redirect_uri"],
        "response_type": "code",
        "state": state,
    }
    answer = http.get(AUTH, params=params)
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(app["redirect_uri"])
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [state]
    return query["code"][0]


def exchange(http: httpx.Client, app: dict[str, str], code: str) -> httpx.Response:
    return http.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": app["redirect_uri"],
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
        },
    )


def refresh(http: httpx.Client, app: dict[str, str], token: str) -> httpx.Response:
    return http.post(
        TOKEN,
        data={
            "grant_type": "refresh_token",
            "refresh_token": token,
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
        },
    )


def authorize(http: httpx.Client, app: dict[str, str]) -> dict[str, Any]:
    answer = exchange(http, app, code_for(http, app))
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


def me(http: httpx.Client, access_token: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
    return http.get(ME, headers=headers)


def advance(http: httpx.Client, seconds: float) -> None:
    assert http.post("/_sandbox/clock/advance", json={"seconds": seconds}).status_code == 200


def test_auto_approve_redirects_with_code_and_the_code_is_single_use(
    http: httpx.Client, app: dict[str, str]
) -> None:
    code = code_for(http, app, state="abc")
    first = exchange(http, app, code)
    assert first.status_code == 200
    body = first.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == "600"  # a string, as Exact sends it
    assert body["access_token"] and body["refresh_token"]
    again = exchange(http, app, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_unknown_client_or_foreign_redirect_uri_gets_an_error_page(
    http: httpx.Client, app: dict[str, str]
) -> None:
    unknown = http.get(AUTH, params={"client_id": "nope", "redirect_uri": app["redirect_uri"]})
    foreign = http.get(
        AUTH, params={"client_id": app["client_id"], "redirect_uri": "http://evil.example/cb"}
    )
    for answer in (unknown, foreign):
        assert answer.status_code == 400
        assert "location" not in answer.headers


async def test_consent_page_shows_allow_access_and_posting_it_approves(
    app: dict[str, str],
) -> None:
    settings = SandboxSettings(auto_approve=False, redirect_uri="http://127.0.0.1:9/cb")
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        params = {
            "client_id": app["client_id"],
            "redirect_uri": app["redirect_uri"],
            "response_type": "code",
            "state": "p",
        }
        page = await client.get(AUTH, params=params)
        assert page.status_code == 200
        assert "Allow access" in page.text and 'method="post"' in page.text
        denied = await client.post(AUTH, data={**params, "decision": "deny"})
        assert "error=access_denied" in denied.headers["location"]
        allowed = await client.post(AUTH, data={**params, "decision": "allow"})
        assert allowed.status_code == 302
        assert "code=" in allowed.headers["location"] and "state=p" in allowed.headers["location"]


def test_basic_auth_client_credentials_are_accepted(
    http: httpx.Client, app: dict[str, str]
) -> None:
    code = code_for(http, app)
    answer = http.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": app["redirect_uri"],
        },
        auth=(app["client_id"], app["client_secret"]),
    )
    assert answer.status_code == 200
    wrong = http.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": answer.json()["refresh_token"]},
        auth=(app["client_id"], "wrong-secret"),
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_client"


def test_refresh_within_570_seconds_is_refused(http: httpx.Client, app: dict[str, str]) -> None:
    tokens = authorize(http, app)
    advance(http, 500)
    early = refresh(http, app, tokens["refresh_token"])
    assert early.status_code == 400
    assert early.json() == {
        "error": "access_denied",
        "error_description": "Rate limit exceeded: access_token not expired",
    }
    assert early.headers["Reason"] == "TooEarlyToRefreshTokens"
    assert me(http, tokens["access_token"]).status_code == 200  # the pair still works


def test_refresh_rotates_and_old_tokens_die(http: httpx.Client, app: dict[str, str]) -> None:
    tokens = authorize(http, app)
    advance(http, 571)
    fresh = refresh(http, app, tokens["refresh_token"])
    assert fresh.status_code == 200
    new = fresh.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    reused = refresh(http, app, tokens["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert reused.json()["error_description"] == "Old refresh token used."
    assert me(http, tokens["access_token"]).status_code == 401
    assert me(http, new["access_token"]).status_code == 200


def test_each_authorization_is_its_own_chain(http: httpx.Client, app: dict[str, str]) -> None:
    first, second = authorize(http, app), authorize(http, app)
    advance(http, 571)
    assert refresh(http, app, first["refresh_token"]).status_code == 200
    assert me(http, second["access_token"]).status_code == 200
    assert refresh(http, app, second["refresh_token"]).status_code == 200


def test_an_older_code_is_refused_once_a_newer_one_was_issued_to_the_same_user(
    http: httpx.Client, app: dict[str, str]
) -> None:
    """Two consents at once (two windows): only the newest code starts a chain."""
    older, newer = code_for(http, app, state="tab-1"), code_for(http, app, state="tab-2")
    refused = exchange(http, app, older)
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "invalid_grant",
        "error_description": "Token is not allowed, because of invalid or empty chainId",
    }
    assert exchange(http, app, newer).status_code == 200
    assert exchange(http, app, older).status_code == 400  # spent, not usable later


def test_access_token_expires_after_600_seconds(http: httpx.Client, app: dict[str, str]) -> None:
    tokens = authorize(http, app)
    assert me(http, tokens["access_token"]).status_code == 200
    advance(http, 601)
    expired = me(http, tokens["access_token"])
    assert expired.status_code == 401
    assert "value" in expired.json()["error"]["message"]


def test_refresh_token_unused_for_30_days_expires(http: httpx.Client, app: dict[str, str]) -> None:
    tokens = authorize(http, app)
    advance(http, 30 * 86_400 + 1)
    answer = refresh(http, app, tokens["refresh_token"])
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert answer.json()["error_description"].startswith("The refresh token expired at")


def test_control_plane_expires_and_revokes_a_chain(http: httpx.Client, app: dict[str, str]) -> None:
    tokens = authorize(http, app)
    expired = http.post("/_sandbox/exact/tokens/expire", json={"token": tokens["access_token"]})
    assert expired.json() == {"chains": 1}
    assert me(http, tokens["access_token"]).status_code == 401
    renewed = refresh(http, app, tokens["refresh_token"])  # allowed at once after expiry
    assert renewed.status_code == 200
    revoked = http.post("/_sandbox/exact/tokens/revoke", json={"token": tokens["access_token"]})
    assert revoked.json() == {"chains": 1}
    assert me(http, renewed.json()["access_token"]).status_code == 401
    advance(http, 571)
    assert refresh(http, app, renewed.json()["refresh_token"]).status_code == 400


def test_a_lost_refresh_answer_still_spends_the_pair(
    http: httpx.Client, app: dict[str, str]
) -> None:
    """``drop_response_after_commit`` on the token endpoint: Exact rotates, the caller
    never hears the new pair, and both old tokens are dead (strict, see exact/tokens.py)."""
    tokens = authorize(http, app)
    advance(http, 571)
    fault = {
        "system": "exact",
        "path_pattern": "oauth2/token",
        "kind": "drop_response_after_commit",
        "count": 1,
        "method": "POST",
    }
    assert http.post("/_sandbox/faults", json=fault).status_code == 201

    lost = refresh(http, app, tokens["refresh_token"])

    assert lost.status_code == 504 and "refresh_token" not in lost.text
    again = refresh(http, app, tokens["refresh_token"])
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_grant",
        "error_description": "Old refresh token used.",
    }
    assert me(http, tokens["access_token"]).status_code == 401
