"""The one clock for date decisions: it follows the sandbox's clock when told to (dev and
tests), and refuses to in production."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import ValidationError

from invoicesync_api.integrations import oauth
from invoicesync_api.settings import ApiSettings
from invoicesync_sandbox.main import create_app as create_sandbox
from invoicesync_shared import clock
from invoicesync_shared.settings import ServiceSettings
from tests.support.servers import sandbox_config, serve_in_thread


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    """A sandbox of its own: advancing its clock must not move other tests' sandbox."""
    settings = sandbox_config()
    with serve_in_thread(create_sandbox(settings), port=settings.port) as url:
        yield url


async def test_services_follow_the_sandbox_clock_when_it_is_advanced(sandbox_url: str) -> None:
    async with clock.following(f"{sandbox_url}/_sandbox/clock", "test") as followed:
        assert isinstance(followed, clock.FollowedClock)
        assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)
        advance = {"seconds": 86_400}
        httpx.post(f"{sandbox_url}/_sandbox/clock/advance", json=advance).raise_for_status()
        async with httpx.AsyncClient() as http:
            await followed.sync(http)  # what its background loop does twice a second

        assert clock.now() - datetime.now(UTC) > timedelta(hours=23, minutes=59)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)  # back to the host's


def test_a_followed_clock_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="development and tests only"):
        ServiceSettings(env="production", clock_url="http://127.0.0.1:8010/_sandbox/clock")
    with pytest.raises(ValueError, match="development and tests only"):
        clock.configured("http://127.0.0.1:8010/_sandbox/clock", "production")
    assert isinstance(clock.configured("", "production"), clock.SystemClock)


async def test_tokens_from_a_consent_are_dated_by_the_shared_clock(sandbox_url: str) -> None:
    """The API stores a new grant's expiry by the clock the connectors judge it with: after
    a month of simulated time a reconnected grant must not look expired to them (it did,
    and the connector's early refresh was refused by Exact's 570-second floor)."""
    settings = ApiSettings(
        sandbox_url=sandbox_url, oauth_redirect_uri="http://127.0.0.1:9/v1/oauth/callback"
    )
    month = {"seconds": 30 * 86_400}
    httpx.post(f"{sandbox_url}/_sandbox/clock/advance", json=month).raise_for_status()
    code = _exact_code(sandbox_url, settings.redirect_uri())
    async with clock.following(f"{sandbox_url}/_sandbox/clock", "test"):
        _, columns = await oauth.exchange_code(settings, "exact", code)
        now = clock.now()
    assert now - datetime.now(UTC) > timedelta(days=29)
    assert abs(columns["token_issued_at"] - now) < timedelta(seconds=5)
    assert columns["token_expires_at"] - now > timedelta(minutes=9)


def _exact_code(sandbox_url: str, redirect_uri: str) -> str:
    """The code Exact's consent page hands the app (the sandbox approves at once)."""
    authorize = httpx.get(
        f"{sandbox_url}/exact/api/oauth2/auth",
        params={
            "client_id": "invoicesync-dev",
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "state": "s",
        },
    )
    assert authorize.status_code == 302, authorize.text
    return parse_qs(urlsplit(authorize.headers["location"]).query)["code"][0]
