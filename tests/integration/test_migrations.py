"""The migrations build exactly the schema the models describe: a column or index added
to a model without its migration (or the other way round) fails here, not in production."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import invoicesync_api.db.models  # noqa: F401  (registers the API's tables)
import invoicesync_shared.connectors.pacing
import invoicesync_shared.connectors.remote_status  # noqa: F401
from invoicesync_shared.db.base import Model

# Only the migrations name these: the shared Integration model, loaded by connectors that
# never load the API's tables, cannot point its foreign keys at partners and clients.
MIGRATION_ONLY = {"fk_integrations_partner_id_partners", "fk_integrations_client_id_clients"}


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
