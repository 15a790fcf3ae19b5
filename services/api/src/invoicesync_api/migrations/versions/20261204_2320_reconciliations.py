"""reconciliations and their remote entries; a notification may be a reconciliation's

An integration may reconcile its last days each night (``nightly_reconciliation_days``,
0: off). A reconciliation compares our documents of a period with what one integration's
accounting system holds. The connector reads the entries and sends them in chunks; each is
kept in ``reconciliation_entries`` (one row per remote entry, so a repeated chunk changes
nothing) until the read is over and the report is written on the reconciliation.

Revision ID: 2d7b9e4f6a63
Revises: 6a1e9d0b2c21
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "2d7b9e4f6a63"
down_revision = "6a1e9d0b2c21"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reconciliations",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.Column("client_id", sa.UUID(), nullable=False),
        sa.Column("integration_id", sa.UUID(), nullable=False),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_to", sa.Date(), nullable=False),
        sa.Column("detailed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("entries_read", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("calls_used", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_reconciliations_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_reconciliations_integration_id_integrations"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_reconciliations_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliations")),
    )
    op.create_index(
        op.f("ix_reconciliations_integration_id"),
        "reconciliations",
        ["integration_id"],
        unique=False,
    )
    op.create_table(
        "reconciliation_entries",
        sa.Column("reconciliation_id", sa.UUID(), nullable=False),
        sa.Column("remote_id", sa.String(length=128), nullable=False),
        sa.Column("entry", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["reconciliation_id"],
            ["reconciliations.id"],
            name=op.f("fk_reconciliation_entries_reconciliation_id_reconciliations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "reconciliation_id", "remote_id", name=op.f("pk_reconciliation_entries")
        ),
    )
    op.add_column(
        "integrations",
        sa.Column(
            "nightly_reconciliation_days", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
    )
    op.add_column("notifications", sa.Column("reconciliation_id", sa.UUID(), nullable=True))
    op.create_foreign_key(
        op.f("fk_notifications_reconciliation_id_reconciliations"),
        "notifications",
        "reconciliations",
        ["reconciliation_id"],
        ["id"],
    )
    op.create_unique_constraint(
        op.f("uq_notifications_reconciliation_id"), "notifications", ["reconciliation_id"]
    )


def downgrade() -> None:
    op.drop_constraint(op.f("uq_notifications_reconciliation_id"), "notifications", type_="unique")
    op.drop_constraint(
        op.f("fk_notifications_reconciliation_id_reconciliations"),
        "notifications",
        type_="foreignkey",
    )
    op.drop_column("notifications", "reconciliation_id")
    op.drop_column("integrations", "nightly_reconciliation_days")
    op.drop_table("reconciliation_entries")
    op.drop_index(op.f("ix_reconciliations_integration_id"), table_name="reconciliations")
    op.drop_table("reconciliations")
