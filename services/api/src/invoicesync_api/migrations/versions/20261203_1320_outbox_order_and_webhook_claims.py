"""outbox_messages.write_xid (the relay publishes in writing-transaction order per key);
webhook_deliveries' claim token and database-clock lease (only the claim holder records)

Revision ID: 03c787644cea
Revises: 4e8b1c7a2d90
Create Date: 2026-12-03 13:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "03c787644cea"
down_revision = "4e8b1c7a2d90"
branch_labels = None
depends_on = None

WRITE_XID = "(pg_current_xact_id()::text::bigint)"


def upgrade() -> None:
    # A constant default first (no table rewrite): the rows already waiting are older than
    # anything written from now on, so 0 keeps them first. New rows get their writer's xid.
    op.add_column(
        "outbox_messages",
        sa.Column("write_xid", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.alter_column("outbox_messages", "write_xid", server_default=sa.text(WRITE_XID))
    op.drop_index("ix_outbox_messages_unpublished", table_name="outbox_messages")
    op.create_index(
        "ix_outbox_messages_unpublished",
        "outbox_messages",
        ["write_xid", "id"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.add_column(
        "webhook_deliveries",
        sa.Column("claim_token", postgresql.UUID(as_uuid=True), nullable=True),
    )
    op.add_column(
        "webhook_deliveries",
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("webhook_deliveries", "claimed_until")
    op.drop_column("webhook_deliveries", "claim_token")
    op.drop_index("ix_outbox_messages_unpublished", table_name="outbox_messages")
    op.create_index(
        "ix_outbox_messages_unpublished",
        "outbox_messages",
        ["id"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.drop_column("outbox_messages", "write_xid")
