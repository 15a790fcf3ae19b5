"""Purchase documents' numbers are the suppliers' own: unique per client, kind and
supplier (its ``external_id``, as customers are told apart), so two suppliers' invoices
numbered alike are both taken; sales documents' numbers stay unique per client and kind.
A partial unique index per side, as the intake's duplicate lookup asks each.

Revision ID: 5b8e3f1a9c27
Revises: 7d2a5c8e1f43
Create Date: 2026-12-05 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5b8e3f1a9c27"
down_revision = "7d2a5c8e1f43"
branch_labels = None
depends_on = None

SALES = "kind IN ('invoice', 'credit_note')"


def upgrade() -> None:
    op.create_index(
        "uq_documents_sales_number",
        "documents",
        ["client_id", "kind", "number"],
        unique=True,
        postgresql_where=sa.text(SALES),
    )
    op.create_index(
        "uq_documents_purchase_number",
        "documents",
        ["client_id", "kind", "number", sa.text("(customer ->> 'external_id')")],
        unique=True,
        postgresql_where=sa.text(f"NOT ({SALES})"),
    )
    op.drop_constraint(op.f("uq_documents_client_id"), "documents", type_="unique")


def downgrade() -> None:
    # Two suppliers' purchase documents numbered alike would break the old constraint:
    # the later ones go (as the purchase documents' own downgrade removes them all).
    later = (
        "SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY client_id, kind, number "
        "ORDER BY created_at, id) AS n FROM documents) d WHERE n > 1"
    )
    for table in ("document_files", "sync_run_items", "document_syncs"):
        op.execute(f"DELETE FROM {table} WHERE document_id IN ({later})")
    op.execute(f"DELETE FROM documents WHERE id IN ({later})")
    op.create_unique_constraint(
        op.f("uq_documents_client_id"), "documents", ["client_id", "kind", "number"]
    )
    op.drop_index("uq_documents_purchase_number", table_name="documents")
    op.drop_index("uq_documents_sales_number", table_name="documents")
