"""Indexes for the console's pages: the inbox's failed sends and the bell, costing what
they show, not the partner's history

The inbox counts and lists the failed (and ambiguous) sends per error code and system:
a partial index of those rows alone, by integration and code and carrying the time of the
answer, answers the counts and ranks the latest of each cause from the index alone. The
bell counts the unread notifications and the notifications page lists unread and read ones
newest first: one index per read state, in that order.

Revision ID: 85e17f34e8ff
Revises: 7f3c2a9e5d18
Create Date: 2026-12-05 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "85e17f34e8ff"
down_revision = "7f3c2a9e5d18"
branch_labels = None
depends_on = None

PROBLEMS = sa.text("status IN ('failed', 'ambiguous')")
UNREAD = sa.text("read_at IS NULL")
READ = sa.text("read_at IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_document_syncs_problems",
        "document_syncs",
        ["integration_id", "error_code", "document_id"],
        postgresql_include=["answered_at"],
        postgresql_where=PROBLEMS,
    )
    op.create_index(
        "ix_notifications_partner_unread",
        "notifications",
        ["partner_id", "created_at"],
        postgresql_where=UNREAD,
    )
    op.create_index(
        "ix_notifications_partner_read",
        "notifications",
        ["partner_id", "created_at"],
        postgresql_where=READ,
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_partner_read", table_name="notifications")
    op.drop_index("ix_notifications_partner_unread", table_name="notifications")
    op.drop_index("ix_document_syncs_problems", table_name="document_syncs")
