"""Test databases: each a copy of one database migrated to head once per test run, dropped
afterwards.

Migrating costs seconds (every revision, one by one); ``CREATE DATABASE … TEMPLATE`` copies
the migrated files in a fraction of that, so the run's database and every module's own
database (chaos, soak, the outbox relays) pay for the migrations once between them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import SecretStr

from invoicesync_api.migrate import upgrade
from invoicesync_devstack import postgres


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
