"""documents.failed_syncs, kept by a trigger on document_syncs, and partial indexes of
the documents with a failed sync: "sync_status=failed" costs what it finds

Failed is the one unsettled status that accumulates (it stays until someone retries), so
probing a client's history for it grows with the history. The count is kept by the
database itself, on every insert, status change and delete of a sync row, whichever code
path writes it; an increment commutes, so two syncs of one document changing at once in
two transactions leave it right.

Revision ID: 4b8e2f6a9c31
Revises: 7d3a9c1e5b20
Create Date: 2026-12-04 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "4b8e2f6a9c31"
down_revision = "7d3a9c1e5b20"
branch_labels = None
depends_on = None

WITH_FAILED = sa.text("failed_syncs > 0")

FUNCTION = """
CREATE FUNCTION count_failed_syncs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'failed' THEN
        UPDATE documents SET failed_syncs = failed_syncs - 1 WHERE id = OLD.document_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'failed' THEN
        UPDATE documents SET failed_syncs = failed_syncs + 1 WHERE id = NEW.document_id;
    END IF;
    RETURN NULL;
END
$$
"""
TRIGGERS = (
    "CREATE TRIGGER document_syncs_failed_inserted AFTER INSERT ON document_syncs "
    "FOR EACH ROW WHEN (NEW.status = 'failed') EXECUTE FUNCTION count_failed_syncs()",
    "CREATE TRIGGER document_syncs_failed_changed AFTER UPDATE OF status "
    "ON document_syncs FOR EACH ROW WHEN ((OLD.status = 'failed' OR NEW.status = 'failed') "
    "AND OLD.status IS DISTINCT FROM NEW.status) "
    "EXECUTE FUNCTION count_failed_syncs()",
    "CREATE TRIGGER document_syncs_failed_deleted AFTER DELETE ON document_syncs "
    "FOR EACH ROW WHEN (OLD.status = 'failed') EXECUTE FUNCTION count_failed_syncs()",
)


def upgrade() -> None:
    op.add_column(
        "documents",
        sa.Column("failed_syncs", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.execute(FUNCTION)
    for trigger in TRIGGERS:
        op.execute(trigger)
    op.execute(
        """
        UPDATE documents d SET failed_syncs = f.n
        FROM (SELECT document_id, count(*) AS n FROM document_syncs
              WHERE status = 'failed' GROUP BY document_id) f
        WHERE f.document_id = d.id
        """
    )
    for owner in ("partner", "client"):
        op.create_index(
            f"ix_documents_{owner}_kind_failed",
            "documents",
            [f"{owner}_id", "kind", "created_at", "id"],
            postgresql_where=WITH_FAILED,
        )


def downgrade() -> None:
    for owner in ("partner", "client"):
        op.drop_index(f"ix_documents_{owner}_kind_failed", table_name="documents")
    for name in ("inserted", "changed", "deleted"):
        op.execute(f"DROP TRIGGER document_syncs_failed_{name} ON document_syncs")
    op.execute("DROP FUNCTION count_failed_syncs()")
    op.drop_column("documents", "failed_syncs")
