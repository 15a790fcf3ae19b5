"""The migrations build exactly the schema the models describe: a column or index added
to a model without its migration (or the other way round) fails here, not in production."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import SecretStr
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

import invoicesync_api.db.models  # noqa: F401  (registers the API's tables)
import invoicesync_shared.connectors.pacing
import invoicesync_shared.connectors.remote_status  # noqa: F401
from invoicesync_api.migrate import alembic_config
from invoicesync_devstack import postgres
from invoicesync_shared.db.base import Model
from invoicesync_shared.db.engine import create_engine

# Only the migrations name these: the shared Integration model, loaded by connectors that
# never load the API's tables, cannot point its foreign keys at partners and clients.
MIGRATION_ONLY = {
    "fk_integrations_partner_id_partners",
    "fk_integrations_client_id_clients",
    "fk_document_files_document_id_documents",  # the shared DocumentFile model
}


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return [
        d
        for d in compare_metadata(context, Model.metadata)
        if not (isinstance(d, tuple) and d[0] == "remove_fk" and d[1].name in MIGRATION_ONLY)
    ]


async def test_the_migrated_schema_is_the_models_schema(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == [], "\n".join(_describe(d) for d in differences)


def _describe(difference: Any) -> str:
    if isinstance(difference, list):  # column changes come as a list of tuples
        return "; ".join(_describe(d) for d in difference)
    operation, subject = difference[0], difference[1]
    return f"{operation} {getattr(subject, 'name', subject)} {difference[2:]}"


def test_keys_that_existed_before_scopes_keep_every_scope(postgres_admin_url: str) -> None:
    """Current callers keep working: a key stored before scopes has read, write and admin."""
    name = f"invoicesync_test_{uuid.uuid4().hex[:10]}"
    url = asyncio.run(postgres.create_database(postgres_admin_url, name))
    try:
        config = alembic_config(SecretStr(url))
        command.upgrade(config, "5c2d8e1f7a93")  # the revision before scoped keys
        asyncio.run(_execute(url, INSERT_KEY))
        command.upgrade(config, "head")
        [row] = asyncio.run(_execute(url, "SELECT scopes, expires_at, last_used_at FROM api_keys"))
        assert (sorted(row[0]), row[1], row[2]) == (["admin", "read", "write"], None, None)
    finally:
        asyncio.run(postgres.drop_database(postgres_admin_url, name))


INSERT_KEY = """
WITH p AS (INSERT INTO partners (id, name) VALUES (gen_random_uuid(), 'Old') RETURNING id)
INSERT INTO api_keys (id, partner_id, key_hash, prefix)
SELECT gen_random_uuid(), p.id, repeat('a', 64), 'isk_old' FROM p
"""


async def _execute(url: str, statement: str) -> list[Any]:
    engine = create_engine(SecretStr(url), application_name="invoicesync-tests")
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement))
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()
