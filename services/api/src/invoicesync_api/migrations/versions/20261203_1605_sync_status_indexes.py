"""indexes the document lists and the integration counts filter by: a status that few
documents have is found from its own rows, not by probing every document of the partner

Revision ID: 5b2f0c9d7e31
Revises: ed9e84f52ab4
Create Date: 2026-12-03 16:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5b2f0c9d7e31"
down_revision = "ed9e84f52ab4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_document_syncs_unsettled",
        "document_syncs",
        ["status", "document_id"],
        postgresql_where=sa.text("status <> 'booked'"),
    )
    op.create_index(
        "ix_document_syncs_integration_status", "document_syncs", ["integration_id", "status"]
    )
    op.create_index(
        "ix_documents_client_kind_created", "documents", ["client_id", "kind", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_documents_client_kind_created", table_name="documents")
    op.drop_index("ix_document_syncs_integration_status", table_name="document_syncs")
    op.drop_index("ix_document_syncs_unsettled", table_name="document_syncs")
