"""connector rate slots (pacing shared by replicas) and last-seen remote status

Revision ID: 3c1f0a9d2b7e
Revises: 94f25ba323c7
Create Date: 2026-11-24 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "3c1f0a9d2b7e"
down_revision = "94f25ba323c7"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connector_rate_slots",
        sa.Column("system", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=128), nullable=False),
        sa.Column("next_slot", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("system", "scope", name=op.f("pk_connector_rate_slots")),
    )
    op.create_table(
        "connector_remote_status",
        sa.Column("integration_id", sa.UUID(), nullable=False),
        sa.Column("document_id", sa.UUID(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "integration_id", "document_id", "generation", name=op.f("pk_connector_remote_status")
        ),
    )


def downgrade() -> None:
    op.drop_table("connector_remote_status")
    op.drop_table("connector_rate_slots")
