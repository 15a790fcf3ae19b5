"""Sync runs count the suppliers they created apart from the customers: a purchase
document's push creates a supplier, and the run's summary called it a new customer.

Revision ID: 3c7d9e1f5a42
Revises: 9e4b7c2d1f60
Create Date: 2026-12-06 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "3c7d9e1f5a42"
down_revision = "9e4b7c2d1f60"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "sync_runs",
        sa.Column("suppliers_synced", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_column("sync_runs", "suppliers_synced")
