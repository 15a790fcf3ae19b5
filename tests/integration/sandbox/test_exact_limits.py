"""Exact emulator limits: per-minute and per-day 429s with headers, and the error block."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from invoicesync_sandbox.settings import SandboxSettings
from tests.support.servers import sandbox_config

API = "/exact/api/v1"


@pytest.fixture(scope="module")
def sandbox_settings() -> SandboxSettings:
    return sandbox_config(exact_minutely_limit=5, exact_daily_limit=8)


@pytest.fixture(scope="module")
def http(sandbox_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_url, timeout=10) as client:
        authorize(client)
        yield client


def code_exchange(client: httpx.Client) -> httpx.Response:
    """The demo app's consent (auto-approved) and the trade of its code at the token
    endpoint."""
    app = client.get("/_sandbox/demo").json()["exact"]["test_app"]
    auth = client.get(
        "/exact/api/oauth2/auth",
        params={"client_id": app["client_id"], "redirect_uri": app["redirect_uri"]},
    )
    code = parse_qs(urlsplit(auth.headers["location"]).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, **app}
    return client.post("/exact/api/oauth2/token", data=form)


def authorize(client: httpx.Client) -> None:
    """A new grant of the demo app (its access token lives 10 minutes of sandbox time)."""
    token = code_exchange(client).json()["access_token"]
    client.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})


@pytest.fixture
def division(http: httpx.Client) -> int:
    code: int = http.post("/_sandbox/exact/divisions", json={}).json()["division"]
    return code


def accounts(http: httpx.Client, division: int) -> str:
    return f"{API}/{division}/crm/Accounts"


def test_headers_on_every_answer_and_429_past_the_minute_limit(
    http: httpx.Client, division: int
) -> None:
    answers = [http.get(accounts(http, division)) for _ in range(4)]
    headers = answers[-1].headers
    assert headers["X-RateLimit-Minutely-Limit"] == "5"
    assert headers["X-RateLimit-Minutely-Remaining"] == "1"
    assert headers["X-RateLimit-Limit"] == "8" and headers["X-RateLimit-Remaining"] == "4"
    assert int(headers["X-RateLimit-Minutely-Reset"]) > 1_000_000_000_000  # epoch ms
    assert int(headers["X-RateLimit-Reset"]) > int(headers["X-RateLimit-Minutely-Reset"]) - 1
    assert http.post(accounts(http, division), json={"Name": "Fifth"}).status_code == 201
    refused = http.post(accounts(http, division), json={"Name": "Sixth"})
    assert refused.status_code == 429
    assert refused.headers["X-RateLimit-Minutely-Remaining"] == "0"
    assert "value" in refused.json()["error"]["message"]
    state = http.get(f"/_sandbox/exact/divisions/{division}").json()
    assert [a["name"] for a in state["accounts"]] == ["Fifth"]  # no side effect


def test_minute_window_resets_and_the_daily_limit_holds(http: httpx.Client, division: int) -> None:
    statuses = [http.get(accounts(http, division)).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    assert http.post("/_sandbox/clock/advance", json={"seconds": 60}).status_code == 200
    statuses = [http.get(accounts(http, division)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]  # 8 per day
    assert http.get(f"{API}/current/Me").status_code in (200, 429)


def test_other_divisions_have_their_own_counters(http: httpx.Client) -> None:
    first = http.post("/_sandbox/exact/divisions", json={}).json()["division"]
    second = http.post("/_sandbox/exact/divisions", json={}).json()["division"]
    assert [http.get(accounts(http, first)).status_code for _ in range(6)][-1] == 429
    assert http.get(accounts(http, second)).status_code == 200


def test_more_than_threshold_errors_block_the_endpoint(http: httpx.Client, division: int) -> None:
    limits: dict[str, Any] = http.put(
        "/_sandbox/exact/limits", json={"error_threshold": 2, "minutely_limit": 100}
    ).json()
    assert limits["error_threshold"] == 2 and limits["error_block_status"] == 429
    try:
        url = f"{accounts(http, division)}(guid'00000000-0000-0000-0000-000000000001')"
        assert [http.get(url).status_code for _ in range(3)] == [404, 404, 404]
        blocked = http.get(accounts(http, division))
        assert blocked.status_code == 429
        assert "blocked" in blocked.json()["error"]["message"]["value"]
        other = http.get(f"{API}/{division}/financial/Journals")
        assert other.status_code == 200
        # The block is kept with the calls that caused it: what the app should not have done.
        (block,) = http.get("/_sandbox/exact/limits").json()["blocks"]
        assert (block["division"], block["endpoint"]) == (division, "crm/Accounts")
        assert [(e["status"], e["call"]) for e in block["errors"]] == [
            (404, f"GET {httpx.URL(url).path}")
        ] * 3
    finally:
        http.put(
            "/_sandbox/exact/limits",
            json={"error_threshold": 10, "minutely_limit": 5, "reset_counters": True},
        )


def test_a_block_grows_longer_while_errors_continue(http: httpx.Client, division: int) -> None:
    """Blocked again soon after a block ends: twice as long (1 h, then 2 h)."""
    http.put("/_sandbox/exact/limits", json={"error_threshold": 2, "minutely_limit": 100})
    try:
        url = f"{accounts(http, division)}(guid'00000000-0000-0000-0000-000000000002')"
        for _ in range(2):
            assert [http.get(url).status_code for _ in range(3)] == [404, 404, 404]
            assert http.get(accounts(http, division)).status_code == 429
            http.post("/_sandbox/clock/advance", json={"seconds": 3601})
            authorize(http)
        spans = [
            datetime.fromisoformat(b["until"]) - datetime.fromisoformat(b["at"])
            for b in http.get("/_sandbox/exact/limits").json()["blocks"]
            if b["division"] == division
        ]
        assert spans == [timedelta(hours=1), timedelta(hours=2)]
        # Still blocked an hour after the second block began.
        blocked = http.get(accounts(http, division))
        assert blocked.status_code == 429 and "about an hour" in blocked.text
    finally:
        http.put(
            "/_sandbox/exact/limits",
            json={"error_threshold": 10, "minutely_limit": 5, "reset_counters": True},
        )


def test_the_token_endpoint_takes_its_daily_limit_per_app_and_user(http: httpx.Client) -> None:
    """Past the day's token calls an app's code exchange is refused and issues nothing;
    the next sandbox day it works again."""
    http.put("/_sandbox/exact/limits", json={"token_daily_limit": 2, "reset_counters": True})
    try:
        assert [code_exchange(http).status_code for _ in range(3)] == [200, 200, 429]
        refused = code_exchange(http)
        assert refused.status_code == 429
        assert refused.json()["error"] == "access_denied" and "access_token" not in refused.json()
        http.post("/_sandbox/clock/advance", json={"seconds": 86_400})
        authorize(http)
        assert http.get(f"{API}/current/Me").status_code == 200
    finally:
        http.put("/_sandbox/exact/limits", json={"token_daily_limit": 200, "reset_counters": True})
        authorize(http)


def test_a_lost_answer_fault_spares_refusals_and_waits_for_a_commit(
    http: httpx.Client, division: int
) -> None:
    """``drop_response_after_commit`` loses the answer of a write that committed. A refusal
    commits nothing, and Exact counts it towards its block: the caller must hear it (the
    fault once swallowed eleven 401s in a row that the app's error brake never saw)."""
    fault = {
        "system": "exact",
        "path_pattern": rf"/{division}/crm/Accounts$",
        "kind": "drop_response_after_commit",
        "count": 1,
        "method": "POST",
    }
    assert http.post("/_sandbox/faults", json=fault).status_code == 201
    fired = http.get("/_sandbox/faults").json()["fired"].get("drop_response_after_commit", 0)

    refused = http.post(accounts(http, division), content=b"{not json")
    assert refused.status_code == 400
    lost = http.post(accounts(http, division), json={"Name": "Committed, unheard"})
    assert lost.status_code == 504

    after = http.get("/_sandbox/faults").json()["fired"]["drop_response_after_commit"]
    assert after == fired + 1
    state = http.get(f"/_sandbox/exact/divisions/{division}").json()
    assert [a["name"] for a in state["accounts"]] == ["Committed, unheard"]
