"""Purchase documents: kinds up to 32 characters (``purchase_credit_note``), and the
original file of a purchase document in a table of its own (one per document), its
reference (what events carry) on the document

Revision ID: 7d2a5c8e1f43
Revises: 3c9d1e7a4b20
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "7d2a5c8e1f43"
down_revision = "3c9d1e7a4b20"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column(
        "documents", "kind", type_=sa.String(length=32), existing_type=sa.String(length=16)
    )
    op.add_column("documents", sa.Column("file", JSONB(), nullable=True))
    op.create_table(
        "document_files",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("document_id", sa.UUID(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_document_files_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_files")),
        sa.UniqueConstraint("document_id", name=op.f("uq_document_files_document_id")),
    )
    # The bytes are already compressed (PDF, JPEG, PNG): stored out of line, not compressed.
    op.execute("ALTER TABLE document_files ALTER COLUMN content SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table("document_files")
    op.drop_column("documents", "file")
    # The purchase documents go with their table: kinds of 16 characters were all there was.
    purchase = "SELECT id FROM documents WHERE kind NOT IN ('invoice', 'credit_note')"
    for table in ("sync_run_items", "document_syncs"):
        op.execute(f"DELETE FROM {table} WHERE document_id IN ({purchase})")
    op.execute(f"DELETE FROM documents WHERE id IN ({purchase})")
    op.alter_column(
        "documents", "kind", type_=sa.String(length=16), existing_type=sa.String(length=32)
    )
