"""Keep-alive: an Exact integration with nothing to send for a month keeps its grant.
Exact refuses a refresh token unused for 30 days; the connector refreshes an idle grant
before that, by the shared clock, which here follows a sandbox of its own moved ahead."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from invoicesync_shared import clock
from invoicesync_shared.connectors.keepalive import TokenKeepAlive
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.events.integrations import IntegrationConnectionLost
from invoicesync_shared.events.results import BookingAssigned
from tests.integration.connectors.exact_support import Sessions, World, connect

DAY = 86_400


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
