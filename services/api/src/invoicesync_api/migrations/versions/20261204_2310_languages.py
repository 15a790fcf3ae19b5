"""partners.language, notifications.params, integrations.status_reason_code: messages
in the reader's language

A partner's default language (en, de, nl, es, fr; NULL: English) answers requests that
send no ``Accept-Language`` and writes its webhook payloads' messages. A notification
keeps the parameters of its texts, so they are rendered in the reader's language when
read; its stored title and body are the English ones (and what older rows show). An
integration keeps the connector's code for its status reason, by which it is translated.

Revision ID: 6a1e9d0b2c21
Revises: 8c3f5a7e1b42
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "6a1e9d0b2c21"
down_revision = "8c3f5a7e1b42"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("partners", sa.Column("language", sa.String(5), nullable=True))
    op.create_check_constraint(
        "partners_language_known", "partners", "language IN ('en', 'de', 'nl', 'es', 'fr')"
    )
    op.add_column("notifications", sa.Column("params", JSONB(), nullable=True))
    op.add_column("integrations", sa.Column("status_reason_code", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("integrations", "status_reason_code")
    op.drop_column("notifications", "params")
    op.drop_constraint("partners_language_known", "partners")
    op.drop_column("partners", "language")
