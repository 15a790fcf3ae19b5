"""documents.has_booking_number, kept by the API, and partial indexes of the documents
without one: "not synced anywhere" (booking_number=null) costs what it finds

Revision ID: 7d3a9c1e5b20
Revises: 2c6e8a4f1b57
Create Date: 2026-12-04 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "7d3a9c1e5b20"
down_revision = "2c6e8a4f1b57"
branch_labels = None
depends_on = None

UNBOOKED = sa.text("NOT has_booking_number")


def upgrade() -> None:
    op.add_column(
        "documents",
        sa.Column(
            "has_booking_number", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
    )
    op.execute(
        """
        UPDATE documents d SET has_booking_number = true
        WHERE EXISTS (SELECT 1 FROM document_syncs s
                      WHERE s.document_id = d.id AND s.booking_number IS NOT NULL)
        """
    )
    for owner in ("partner", "client"):
        op.create_index(
            f"ix_documents_{owner}_kind_unbooked",
            "documents",
            [f"{owner}_id", "kind", "created_at", "id"],
            postgresql_where=UNBOOKED,
        )


def downgrade() -> None:
    for owner in ("partner", "client"):
        op.drop_index(f"ix_documents_{owner}_kind_unbooked", table_name="documents")
    op.drop_column("documents", "has_booking_number")
