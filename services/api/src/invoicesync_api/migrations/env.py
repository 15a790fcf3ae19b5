"""Alembic environment: async engine from settings, metadata of every table."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import invoicesync_api.db.models  # noqa: F401  (registers the API's tables)
from invoicesync_api.webhooks import models as _webhook_models  # noqa: F401
from invoicesync_shared.connectors import pacing, remote_status  # noqa: F401
from invoicesync_shared.db import models as _shared_models  # noqa: F401
from invoicesync_shared.db.base import Model
from invoicesync_shared.db.engine import create_engine
from invoicesync_shared.settings import ServiceSettings

target_metadata = Model.metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    url = context.config.attributes.get("database_url") or ServiceSettings().database_url
    engine = create_engine(url, application_name="invoicesync-migrate", pool_size=1)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


asyncio.run(_run_async())
