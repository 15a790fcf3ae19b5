"""Fixtures the connector tests share: a connected Exact division on the run's sandbox,
and a sandbox of a test's own whose clock the connector follows (moving it a day or a
month must not touch other tests' tokens and limits)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import pytest

from connector_yuki.main import build_connector
from connector_yuki.soap import YukiSoap
from invoicesync_sandbox.main import create_app as create_sandbox
from invoicesync_shared import clock
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.crypto import SecretBox
from tests.integration.connectors.exact_support import Sessions, World, connect
from tests.support.producers import RecordingProducer
from tests.support.servers import sandbox_config, serve_in_thread
from tests.support.yuki import SETTLE, SOAP_TIMEOUT, Yuki, add_integration, settings_for


@pytest.fixture
async def world(
    shared_sandbox_url: str, sessionmaker: Sessions, secret_box: SecretBox
) -> AsyncIterator[World]:
    """An Exact division connected through OAuth (Lexware's tests have their own)."""
    world = await connect(shared_sandbox_url, sessionmaker, secret_box)
    yield world
    await world.close(sessionmaker)


@pytest.fixture
async def yuki(
    shared_sandbox_url: str, sessionmaker: Sessions, secret_box: SecretBox, encryption_key: str
) -> AsyncIterator[Yuki]:
    """A new Yuki administration on the run's sandbox, with the real connector and runtime."""
    async with httpx.AsyncClient() as http:
        created = await http.post(
            f"{shared_sandbox_url}/_sandbox/yuki/administrations",
            json={"name": f"Test {uuid.uuid4().hex[:8]}"},
        )
    body = created.json()
    integration = await add_integration(
        sessionmaker, secret_box, body["access_key"], body["administration_id"]
    )
    soap = YukiSoap(f"{shared_sandbox_url}/yuki", timeout=SOAP_TIMEOUT)
    connector = build_connector(settings_for(shared_sandbox_url, encryption_key), soap)
    producer = RecordingProducer()
    runtime = ConnectorRuntime(
        connector,
        sessionmaker=sessionmaker,
        producer=producer,
        retry=RetryPolicy(attempts=4, initial=0.05, maximum=0.2),
        settle=timedelta(seconds=SETTLE),  # not the production 30 s before each lookup
    )
    yield Yuki(
        shared_sandbox_url,
        body["access_key"],
        body["administration_id"],
        integration,
        connector,
        runtime,
        producer,
    )
    await soap.aclose()


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
