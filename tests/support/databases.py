"""Test databases: each made fresh, migrated to head, and dropped afterwards."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import SecretStr

from invoicesync_api.migrate import upgrade
from invoicesync_devstack import postgres


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new database on the server behind ``admin_url``; yields its URL."""
    name = f"invoicesync_test_{uuid.uuid4().hex[:10]}"
    url = asyncio.run(postgres.create_database(admin_url, name))
    upgrade(SecretStr(url))
    try:
        yield url
    finally:
        asyncio.run(postgres.drop_database(admin_url, name))
