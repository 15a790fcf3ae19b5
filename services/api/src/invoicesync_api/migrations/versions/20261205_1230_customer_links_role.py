"""Customer links get a ``role`` (customer or supplier) in their key: a source
application numbers customers and suppliers in separate lists, so its customer 42 and its
supplier 42 are two relations. (A prefix on the key would have collided with a customer
id spelled like it and overflowed the key's 128 characters.)

Revision ID: 9e4b7c2d1f60
Revises: 5b8e3f1a9c27
Create Date: 2026-12-05 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "9e4b7c2d1f60"
down_revision = "5b8e3f1a9c27"
branch_labels = None
depends_on = None

KEY = ["client_id", "system", "scope", "customer_key"]


def upgrade() -> None:
    op.add_column(
        "customer_links",
        sa.Column("role", sa.String(16), nullable=False, server_default="customer"),
    )
    op.drop_constraint("pk_customer_links", "customer_links", type_="primary")
    op.create_primary_key("pk_customer_links", "customer_links", [*KEY, "role"])


def downgrade() -> None:
    # Supplier links have no place in the old key: they go (matched again by their data).
    op.execute("DELETE FROM customer_links WHERE role <> 'customer'")
    op.drop_constraint("pk_customer_links", "customer_links", type_="primary")
    op.create_primary_key("pk_customer_links", "customer_links", KEY)
    op.drop_column("customer_links", "role")
