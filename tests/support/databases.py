"""Test databases: each a copy of one database migrated to head once per test run, dropped
afterwards.

Migrating costs seconds (every revision, one by one); ``CREATE DATABASE … TEMPLATE`` copies
the migrated files in a fraction of that, so the run's database and every module's own
database (chaos, soak, the outbox relays) pay for the migrations once between them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from invoicesync_api.migrate import upgrade
from invoicesync_devstack import postgres
from invoicesync_shared.db.engine import create_engine, create_sessionmaker


@contextmanager
def migrated_template(admin_url: str) -> Iterator[str]:
    """A database migrated to head that nobody connects to afterwards (a copy's source
    must have no sessions); yields its name. One per test run: runs side by side on one
    server each have their own, so none waits for another's sessions to leave."""
    name = f"invoicesync_template_{uuid.uuid4().hex[:10]}"
    upgrade(SecretStr(asyncio.run(postgres.create_database(admin_url, name))))
    try:
        yield name
    finally:
        asyncio.run(postgres.drop_database(admin_url, name))


@contextmanager
def fresh_database(admin_url: str, template: str) -> Iterator[str]:
    """A new database on the server behind ``admin_url``, a copy of ``template`` (from
    ``migrated_template``); yields its URL."""
    name = f"invoicesync_test_{uuid.uuid4().hex[:10]}"
    url = asyncio.run(postgres.create_database(admin_url, name, template=template))
    try:
        yield url
    finally:
        asyncio.run(postgres.drop_database(admin_url, name))


# A database of a module's own: a test module (or conftest) that imports these fixtures
# has them in place of the run's shared ones (same names, each one per module), and says
# beside the import why the shared database does not suit it. They are imported as own_*,
# so that no test's parameter of the fixture's name shadows an import (ruff's F811).


@pytest.fixture(scope="module", name="database_url")
def own_database_url(postgres_admin_url: str, database_template: str) -> Iterator[str]:
    """A copy of the run's migrated template for the module alone, dropped after it."""
    with fresh_database(postgres_admin_url, database_template) as url:
        yield url


@pytest.fixture(scope="module", name="engine")
async def own_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(SecretStr(database_url), application_name="tests")
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module", name="sessionmaker")
def own_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)
