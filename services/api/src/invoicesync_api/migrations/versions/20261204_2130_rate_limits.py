"""api_key_rate_limits and auth_failure_limits: the buckets of the rate limits

One row per API key and one per client address with failed authentications: the GCRA time
and whether the last request (or failure) fitted. UNLOGGED: written on every request without
WAL; a crash empties them, which only refills every bucket. No foreign key: the lookup that writes
a row has just read the key, and a check would cost every request. A low fill factor keeps
the updates HOT (``tat`` is not indexed), so the same page takes them.

Revision ID: 3f8b6d2a4c17
Revises: 7b4e2a9c1d60
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

from alembic import op

revision = "3f8b6d2a4c17"
down_revision = "7b4e2a9c1d60"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE UNLOGGED TABLE api_key_rate_limits (
            key_id uuid PRIMARY KEY,
            tat double precision NOT NULL,
            allowed boolean NOT NULL
        ) WITH (fillfactor = 50)
        """
    )
    op.execute(
        """
        CREATE UNLOGGED TABLE auth_failure_limits (
            address text PRIMARY KEY,
            tat double precision NOT NULL,
            allowed boolean NOT NULL
        ) WITH (fillfactor = 50)
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE auth_failure_limits")
    op.execute("DROP TABLE api_key_rate_limits")
