"""document_syncs.requested_at (the sweeper's per-document rule) and
idempotency_keys.claim_token (a release never deletes another request's claim)

Revision ID: 6106fbbdf934
Revises: 37ac294de359
Create Date: 2026-12-03 13:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "6106fbbdf934"
down_revision = "37ac294de359"
branch_labels = None
depends_on = None

AWAITING = sa.text("status IN ('pending', 'sending', 'ambiguous')")


def upgrade() -> None:
    op.add_column(
        "document_syncs", sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True)
    )
    # The last change of a row still waiting is its request: the best estimate there is.
    op.execute("UPDATE document_syncs SET requested_at = updated_at")
    op.create_index(
        "ix_document_syncs_awaiting_requested_at",
        "document_syncs",
        ["requested_at"],
        unique=False,
        postgresql_where=AWAITING,
    )
    op.add_column(
        "idempotency_keys",
        sa.Column(
            "claim_token",
            postgresql.UUID(as_uuid=True),
            server_default=sa.text("gen_random_uuid()"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("idempotency_keys", "claim_token")
    op.drop_index("ix_document_syncs_awaiting_requested_at", table_name="document_syncs")
    op.drop_column("document_syncs", "requested_at")
