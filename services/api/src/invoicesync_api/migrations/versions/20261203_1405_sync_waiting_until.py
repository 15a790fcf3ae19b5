"""document_syncs: a document waiting for a spent budget (Exact's day) says until when
and why; the index serves the integration's soonest wait

Revision ID: 7715128e09e0
Revises: d947512b6313
Create Date: 2026-12-03 14:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "7715128e09e0"
down_revision = "d947512b6313"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "document_syncs", sa.Column("waiting_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("document_syncs", sa.Column("waiting_reason", sa.String(32), nullable=True))
    op.create_index(
        "ix_document_syncs_waiting",
        "document_syncs",
        ["integration_id", "waiting_until"],
        postgresql_where=sa.text("waiting_until IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_document_syncs_waiting", table_name="document_syncs")
    op.drop_column("document_syncs", "waiting_reason")
    op.drop_column("document_syncs", "waiting_until")
