"""integrations: the failure brake's setting and its run of failures

``failure_brake_after`` (default 3): permanent failures in a row for one code before the
integration pauses; ``failure_streak_code``/``failure_streak_count``: the current run,
counted by one UPDATE per result so replicas applying results at once never miss one;
``resumed_at``: when a person last resumed it (connectors read master data again after it).

Revision ID: 8c3f5a7e1b42
Revises: 3f8b6d2a4c17
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "8c3f5a7e1b42"
down_revision = "3f8b6d2a4c17"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Constant defaults: no table rewrite, no long lock on a busy table.
    op.add_column(
        "integrations",
        sa.Column("failure_brake_after", sa.Integer(), nullable=False, server_default="3"),
    )
    op.add_column("integrations", sa.Column("failure_streak_code", sa.String(64)))
    op.add_column(
        "integrations",
        sa.Column("failure_streak_count", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("integrations", sa.Column("resumed_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("integrations", "resumed_at")
    op.drop_column("integrations", "failure_streak_count")
    op.drop_column("integrations", "failure_streak_code")
    op.drop_column("integrations", "failure_brake_after")
