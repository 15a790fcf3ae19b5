"""integrations.token_refresh_holder/_until: a token refresh in flight, without a row lock

Revision ID: 37ac294de359
Revises: 03c787644cea
Create Date: 2026-12-03 13:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "37ac294de359"
down_revision = "03c787644cea"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "integrations",
        sa.Column("token_refresh_holder", postgresql.UUID(as_uuid=True), nullable=True),
    )
    op.add_column(
        "integrations",
        sa.Column("token_refresh_until", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("integrations", "token_refresh_until")
    op.drop_column("integrations", "token_refresh_holder")
