"""api_keys: scopes, a name, an overlap end (expires_at) and a coarse last-used time

Keys that exist already get every scope (read, write, admin), so current callers keep
working; new keys are always written with their scopes, so the column has no default.

Revision ID: 7b4e2a9c1d60
Revises: 5c2d8e1f7a93
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "7b4e2a9c1d60"
down_revision = "5c2d8e1f7a93"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("name", sa.String(100), nullable=False, server_default=""))
    op.add_column(
        "api_keys",
        sa.Column(
            "scopes",
            ARRAY(sa.String(16)),
            nullable=False,
            server_default=sa.text("'{read,write,admin}'"),
        ),
    )
    op.alter_column("api_keys", "scopes", server_default=None)
    op.add_column("api_keys", sa.Column("expires_at", sa.DateTime(timezone=True)))
    op.add_column("api_keys", sa.Column("last_used_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    for column in ("last_used_at", "expires_at", "scopes", "name"):
        op.drop_column("api_keys", column)
