"""indexes the retention job prunes by: each batch finds its rows without a scan

Revision ID: ed9e84f52ab4
Revises: 7715128e09e0
Create Date: 2026-12-03 14:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ed9e84f52ab4"
down_revision = "7715128e09e0"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_outbox_messages_published_at",
        "outbox_messages",
        ["published_at"],
        postgresql_where=sa.text("published_at IS NOT NULL"),
    )
    op.create_index("ix_processed_events_processed_at", "processed_events", ["processed_at"])
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])
    op.create_index(
        "ix_webhook_deliveries_finished_created",
        "webhook_deliveries",
        ["created_at"],
        postgresql_where=sa.text("status IN ('delivered', 'failed', 'canceled')"),
    )
    op.create_index(
        "ix_connector_ledger_regenerated",
        "connector_ledger",
        ["integration_id", "document_id", "generation"],
        postgresql_where=sa.text("generation > 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_connector_ledger_regenerated", table_name="connector_ledger")
    op.drop_index("ix_webhook_deliveries_finished_created", table_name="webhook_deliveries")
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_index("ix_processed_events_processed_at", table_name="processed_events")
    op.drop_index("ix_outbox_messages_published_at", table_name="outbox_messages")
