"""Fixtures for the runtime's tests that need the ledger's rows read in table order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from invoicesync_shared.db.engine import asyncpg_url, create_sessionmaker
from tests.support.databases import fresh_database

# A plan that reads the ledger's rows in the order they lie in the table: no index scan
# of any kind, and no parallel workers (their rows interleave in any order).
TABLE_ORDER = {
    "enable_indexscan": "off",
    "enable_indexonlyscan": "off",
    "enable_bitmapscan": "off",
    "max_parallel_workers_per_gather": "0",
}


@pytest.fixture
def own_database(postgres_admin_url: str, database_template: str) -> Iterator[str]:
    """A database of its own: in its new ledger, rows lie in the order they were written."""
    with fresh_database(postgres_admin_url, database_template) as url:
        yield url


@pytest.fixture
async def unindexed(own_database: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on ``own_database`` whose plans use no index (``TABLE_ORDER``): rows come
    in the order they were written unless the query orders them, whatever today's plan."""
    engine = create_async_engine(
        asyncpg_url(own_database), connect_args={"server_settings": TABLE_ORDER}
    )
    yield create_sessionmaker(engine)
    await engine.dispose()
