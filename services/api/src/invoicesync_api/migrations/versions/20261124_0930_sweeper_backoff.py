"""sweeper backoff: document_syncs.sweeps

Revision ID: 5b7e2c1d9a30
Revises: 0424ec641838
Create Date: 2026-11-24 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5b7e2c1d9a30"
down_revision = "0424ec641838"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "document_syncs",
        sa.Column("sweeps", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("document_syncs", "sweeps")
