"""sync_runs: what a run moved on (a document its connector deferred, Exact's day spent),
one entry per document and integration, so the run can finish and say so

Revision ID: 2c6e8a4f1b57
Revises: 5b2f0c9d7e31
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "2c6e8a4f1b57"
down_revision = "5b2f0c9d7e31"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # sync_run_items.outcome is a plain String(16) without a CHECK: "deferred" fits as is.
    op.add_column(
        "sync_runs",
        sa.Column(
            "deferred",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("sync_runs", "deferred")
