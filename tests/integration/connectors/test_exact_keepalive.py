"""Keep-alive: an Exact integration with nothing to send for a month keeps its grant.
Exact refuses a refresh token unused for 30 days; the connector refreshes an idle grant
before that, by the shared clock, which here follows a sandbox of its own moved ahead."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import pytest

from invoicesync_sandbox.main import create_app as create_sandbox
from invoicesync_shared import clock
from invoicesync_shared.connectors.keepalive import TokenKeepAlive
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.events.integrations import IntegrationConnectionLost
from invoicesync_shared.events.results import BookingAssigned
from tests.integration.connectors.exact_support import Sessions, World, connect
from tests.support.servers import sandbox_config, serve_in_thread

DAY = 86_400


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    """Its own sandbox: moving its clock a month must not touch other tests' tokens."""
    settings = sandbox_config()
    with serve_in_thread(create_sandbox(settings), port=settings.port) as url:
        yield url


@pytest.fixture
async def followed(sandbox_url: str) -> AsyncIterator[clock.FollowedClock]:
    async with clock.following(f"{sandbox_url}/_sandbox/clock", "test") as followed:
        assert isinstance(followed, clock.FollowedClock)
        yield followed


async def _days_later(sandbox_url: str, followed: clock.FollowedClock, days: int) -> None:
    """A month passes in the sandbox (token lifetimes) and for the connector alike."""
    advanced = httpx.post(f"{sandbox_url}/_sandbox/clock/advance", json={"seconds": days * DAY})
    advanced.raise_for_status()
    async with httpx.AsyncClient() as http:
        await followed.sync(http)


@pytest.mark.parametrize("kept_alive", [True, False], ids=["kept-alive", "left-idle"])
async def test_an_idle_month_ends_with_a_working_grant_only_when_kept_alive(
    sandbox_url: str,
    followed: clock.FollowedClock,
    sessionmaker: Sessions,
    secret_box: SecretBox,
    kept_alive: bool,
) -> None:
    world: World = await connect(sandbox_url, sessionmaker, secret_box)
    keep_alive = TokenKeepAlive(
        sessionmaker,
        world.one.producer,
        world.one.tokens,
        system="exact",
        max_idle=timedelta(days=25),
        interval=3600.0,
    )
    try:
        await _days_later(sandbox_url, followed, 20)
        assert await keep_alive.run_for(world.integration.id) == 0  # 20 days: not yet
        await _days_later(sandbox_url, followed, 6)
        if kept_alive:
            assert await keep_alive.run_for(world.integration.id) == 1
        await _days_later(sandbox_url, followed, 5)  # 31 days after the connection

        await world.send(world.document("IDLE-1"))
    finally:
        await world.close(sessionmaker)

    booked = world.results(BookingAssigned.TYPE)
    lost = world.results(IntegrationConnectionLost.TYPE)
    if kept_alive:
        assert len(booked) == 1 and lost == []
    else:
        assert booked == [] and len(lost) == 1
