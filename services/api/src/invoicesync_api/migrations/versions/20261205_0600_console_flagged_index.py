"""The inbox's duplicate booking numbers: the few flagged sends (a number another
document holds, or an entry deleted in the accounting system), counted and listed per
system from their own rows, not from the partner's booked history

Revision ID: 3c9d1e7a4b20
Revises: 85e17f34e8ff
Create Date: 2026-12-05 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "3c9d1e7a4b20"
down_revision = "85e17f34e8ff"
branch_labels = None
depends_on = None

FLAGGED = sa.text("duplicate_of IS NOT NULL OR error_code = 'remote_entry_missing'")


def upgrade() -> None:
    op.create_index(
        "ix_document_syncs_flagged",
        "document_syncs",
        ["integration_id", "document_id"],
        postgresql_include=["answered_at"],
        postgresql_where=FLAGGED,
    )


def downgrade() -> None:
    op.drop_index("ix_document_syncs_flagged", table_name="document_syncs")
