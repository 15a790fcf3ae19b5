"""connector_ledger: an explicit lease on the database clock, the sent time, and the
outcome's result event with its publication (the connectors' outbox)

Revision ID: d947512b6313
Revises: 6106fbbdf934
Create Date: 2026-12-03 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "d947512b6313"
down_revision = "6106fbbdf934"
branch_labels = None
depends_on = None

# The old lease marker: an outcome set updated_at to this placeholder to free the lease.
LEASE_FREE = "2000-01-01 00:00:00+00"


def upgrade() -> None:
    op.add_column(
        "connector_ledger",
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column("connector_ledger", sa.Column("sent_at", sa.DateTime(timezone=True)))
    op.add_column(
        "connector_ledger",
        sa.Column("result_event", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column(
        "connector_ledger",
        sa.Column("result_published_at", sa.DateTime(timezone=True), nullable=True),
    )
    # A live attempt keeps its lease (the old one lasted 120 s from updated_at); rows
    # freed with the placeholder get their creation time back as the last change.
    op.execute(
        "UPDATE connector_ledger SET lease_expires_at = updated_at + interval '120 seconds' "
        f"WHERE state = 'attempting' AND updated_at > timestamptz '{LEASE_FREE}'"
    )
    op.execute(
        "UPDATE connector_ledger SET updated_at = created_at "
        f"WHERE updated_at = timestamptz '{LEASE_FREE}'"
    )
    op.create_index(
        "ix_connector_ledger_unpublished",
        "connector_ledger",
        ["updated_at"],
        postgresql_where=sa.text("result_event IS NOT NULL AND result_published_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_connector_ledger_unpublished", table_name="connector_ledger")
    op.execute(
        f"UPDATE connector_ledger SET updated_at = timestamptz '{LEASE_FREE}' "
        "WHERE lease_expires_at IS NULL"
    )
    op.drop_column("connector_ledger", "result_published_at")
    op.drop_column("connector_ledger", "result_event")
    op.drop_column("connector_ledger", "sent_at")
    op.drop_column("connector_ledger", "lease_expires_at")
