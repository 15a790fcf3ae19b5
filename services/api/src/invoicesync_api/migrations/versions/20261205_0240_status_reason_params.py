"""integrations.status_reason_params: what an integration's status reason names

The reason's stable code picks its text in the reader's language; these parameters (a
date, an organisation, the accounting system's own words) fill it. NULL: the code needs
none, or the reason is free text (shown as stored).

Revision ID: 7f3c2a9e5d18
Revises: 2d7b9e4f6a63
Create Date: 2026-12-05 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "7f3c2a9e5d18"
down_revision = "2d7b9e4f6a63"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("integrations", sa.Column("status_reason_params", JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("integrations", "status_reason_params")
