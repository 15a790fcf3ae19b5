"""The typed outbox row names exactly the columns a writer sets: the accept path's own
statement binds ``COLUMNS``, so a column missing there would be missing from its rows."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from invoicesync_shared.db.models import OutboxMessage
from invoicesync_shared.outbox.writer import COLUMNS

OUTBOX = cast(Table, OutboxMessage.__table__)
# Not the writer's: the database sets these (a sequence, defaults), the relay published_at.
NOT_WRITTEN = {"id", "write_xid", "created_at", "published_at"}


def test_the_row_names_every_column_a_writer_sets() -> None:
    assert set(COLUMNS) == {column.name for column in OUTBOX.columns} - NOT_WRITTEN


def test_the_columns_the_database_sets_need_no_writer() -> None:
    for name in NOT_WRITTEN:
        column = OUTBOX.c[name]
        assert column.primary_key or column.server_default is not None or column.nullable, name
