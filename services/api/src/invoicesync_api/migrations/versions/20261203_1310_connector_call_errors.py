"""connector_call_errors: the error brake's rolling hour, shared by every replica

Revision ID: 4e8b1c7a2d90
Revises: 7d4a9e2f6b11
Create Date: 2026-12-03 13:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "4e8b1c7a2d90"
down_revision = "7d4a9e2f6b11"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connector_call_errors",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("system", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("endpoint", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_call_errors")),
    )
    op.create_index(
        "ix_connector_call_errors_key",
        "connector_call_errors",
        ["system", "scope", "endpoint", "at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_connector_call_errors_key", table_name="connector_call_errors")
    op.drop_table("connector_call_errors")
