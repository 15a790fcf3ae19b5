"""outbox_messages: a statement trigger NOTIFYs the relay's channel

A transaction that writes outbox rows notifies ``invoicesync_outbox`` once (PostgreSQL
sends notifications at commit, folds repeats within a transaction, and sends none for a
rollback), so the relay publishes at once instead of at its next idle poll.

Revision ID: 5c2d8e1f7a93
Revises: 9e1f3b7c5a42
Create Date: 2026-12-04 20:30:00
"""

from __future__ import annotations

from alembic import op

revision = "5c2d8e1f7a93"
down_revision = "9e1f3b7c5a42"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('invoicesync_outbox', '');
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER outbox_commit_signal AFTER INSERT ON outbox_messages"
        " FOR EACH STATEMENT EXECUTE FUNCTION notify_outbox()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER outbox_commit_signal ON outbox_messages")
    op.execute("DROP FUNCTION notify_outbox()")
