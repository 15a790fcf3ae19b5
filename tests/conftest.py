"""Fixtures over real parts: PostgreSQL (the machine's on 127.0.0.1:5432 when it answers,
else the embedded wheel), the wheel's Kafka-protocol broker, and the sandbox server."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from invoicesync_devstack import broker, postgres
from invoicesync_devstack.ports import SHARE, free_port
from invoicesync_sandbox.main import create_app as create_sandbox
from invoicesync_sandbox.settings import SandboxSettings
from invoicesync_shared.bus.admin import ensure_topics
from invoicesync_shared.crypto import SecretBox, generate_key
from invoicesync_shared.db.engine import create_engine, create_sessionmaker
from tests.support.databases import fresh_database, migrated_template
from tests.support.servers import sandbox_config, serve_in_thread

ROOT = Path(__file__).resolve().parent.parent

# Each pytest-xdist worker draws its free ports from a share of its own: two workers'
# stacks, drawing at once, once took the same port between a draw and its bind.
if os.environ.get("PYTEST_XDIST_WORKER", "").removeprefix("gw").isdigit():
    os.environ.setdefault(
        SHARE,
        f"{os.environ['PYTEST_XDIST_WORKER'].removeprefix('gw')}"
        f"/{os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1')}",
    )

# make test runs on two pytest-xdist workers, one test file at a time each (--dist loadfile):
# the files that take longest (a stack of processes each) go first, so no worker is left
# with a long one while the other has finished.
_LONGEST_FIRST = (("soak",), ("chaos",), ("e2e", "processes", "reliability"))


def _weight(item: pytest.Item) -> int:
    for rank, markers in enumerate(_LONGEST_FIRST):
        if any(item.get_closest_marker(marker) for marker in markers):
            return rank
    return len(_LONGEST_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest files first (a stable sort: each file's tests keep their order)."""
    rank: dict[str, int] = {}
    for item in items:
        path = item.nodeid.split("::")[0]
        rank[path] = min(rank.get(path, len(_LONGEST_FIRST)), _weight(item))
    items.sort(key=lambda item: rank[item.nodeid.split("::")[0]])


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    if asyncio.run(postgres.server_answers(postgres.LOCAL_SERVER)):
        yield postgres.LOCAL_SERVER
        return
    # Short path: the embedded server's unix socket lives in its data directory.
    server = postgres.embedded_server(Path(f"/tmp/isync-pg-{os.getuid()}"))
    yield server.get_uri()


@pytest.fixture(scope="session")
def database_template(postgres_admin_url: str) -> Iterator[str]:
    """The run's database migrated to head once: every fresh database is a copy of it."""
    with migrated_template(postgres_admin_url) as name:
        yield name


@pytest.fixture(scope="session")
def database_url(postgres_admin_url: str, database_template: str) -> Iterator[str]:
    """A fresh database for this run, shared by the tests that need no other."""
    with fresh_database(postgres_admin_url, database_template) as url:
        yield url


@pytest.fixture(scope="session")
def encryption_key() -> str:
    return generate_key()


@pytest.fixture(scope="session")
def secret_box(encryption_key: str) -> SecretBox:
    return SecretBox(SecretStr(encryption_key))


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(SecretStr(database_url), application_name="tests")
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A broker from the wheel on a free port, with our topics."""
    port = free_port()
    process = broker.start_broker(port)
    bootstrap = f"127.0.0.1:{port}"
    asyncio.run(ensure_topics(bootstrap, partitions=4))
    yield bootstrap
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def shared_sandbox_settings() -> SandboxSettings:
    return sandbox_config(fault_hang_seconds=3.0)


@pytest.fixture(scope="session")
def shared_sandbox_url(shared_sandbox_settings: SandboxSettings) -> Iterator[str]:
    """One sandbox for the connector tests of the whole run (over real HTTP)."""
    with serve_in_thread(
        create_sandbox(shared_sandbox_settings), port=shared_sandbox_settings.port
    ) as url:
        yield url
