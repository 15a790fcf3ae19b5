"""document_syncs.answered_at: when a connector last answered a request for the document

Revision ID: 7d4a9e2f6b11
Revises: 5b7e2c1d9a30
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "7d4a9e2f6b11"
down_revision = "5b7e2c1d9a30"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "document_syncs", sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        op.f("ix_document_syncs_answered_at"), "document_syncs", ["answered_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_document_syncs_answered_at"), table_name="document_syncs")
    op.drop_column("document_syncs", "answered_at")
