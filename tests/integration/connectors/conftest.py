"""Fixtures the connector tests share: a connected Exact division on the run's sandbox,
and a sandbox of a test's own whose clock the connector follows (moving it a day or a
month must not touch other tests' tokens and limits)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from invoicesync_sandbox.main import create_app as create_sandbox
from invoicesync_shared import clock
from invoicesync_shared.crypto import SecretBox
from tests.integration.connectors.exact_support import Sessions, World, connect
from tests.support.servers import sandbox_config, serve_in_thread


@pytest.fixture
async def world(
    shared_sandbox_url: str, sessionmaker: Sessions, secret_box: SecretBox
) -> AsyncIterator[World]:
    """An Exact division connected through OAuth (Lexware's tests have their own)."""
    world = await connect(shared_sandbox_url, sessionmaker, secret_box)
    yield world
    await world.close(sessionmaker)


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    """A sandbox of the test's own."""
    settings = sandbox_config()
    with serve_in_thread(create_sandbox(settings), port=settings.port) as url:
        yield url


@pytest.fixture
async def followed(sandbox_url: str) -> AsyncIterator[clock.FollowedClock]:
    """The shared clock, following that sandbox's clock for the test's length."""
    async with clock.following(f"{sandbox_url}/_sandbox/clock", "test") as followed:
        assert isinstance(followed, clock.FollowedClock)
        yield followed
