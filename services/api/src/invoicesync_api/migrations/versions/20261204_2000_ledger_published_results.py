"""connector_ledger: an index of the published result events retention may drop

A ledger entry keeps its result event to publish it (the connector's outbox) and to
answer a redelivered request with the identical event. Once published and older than the
ledger window, the event goes (its id is rebuilt from the entry's columns); this index
lets the retention job find those few rows without reading the whole ledger.

Revision ID: 9e1f3b7c5a42
Revises: 4b8e2f6a9c31
Create Date: 2026-12-04 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "9e1f3b7c5a42"
down_revision = "4b8e2f6a9c31"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_connector_ledger_published_results",
        "connector_ledger",
        ["result_published_at"],
        postgresql_where=sa.text("result_event IS NOT NULL AND result_published_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_connector_ledger_published_results", table_name="connector_ledger")
