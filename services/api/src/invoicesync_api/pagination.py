"""Keyset pages on (created_at, id): opaque cursors, newest first, pages that never shift
when rows are added meanwhile."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from invoicesync_api.errors.exceptions import Unprocessable
from invoicesync_api.i18n.catalog import N_


class Keyed(Protocol):
    created_at: Any
    id: Any


Row = TypeVar("Row", bound=Keyed)


def encode_cursor(row: Keyed) -> str:
    raw = json.dumps([row.created_at.isoformat(), str(row.id)])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created, ident = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(created), uuid.UUID(ident)
    except (ValueError, TypeError) as exc:
        raise Unprocessable(
            N_("The cursor is not one this API handed out."),
            extra={"errors": [{"field": "cursor", "message": N_("unknown cursor")}]},
        ) from exc


async def newest_first(
    session: AsyncSession,
    query: Select[Row],
    *,
    created_at: InstrumentedAttribute[datetime],
    ident: InstrumentedAttribute[uuid.UUID],
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Row], str | None]:
    """One page of ``query`` and the cursor of the next (None on the last page)."""
    if cursor:
        created, last_id = decode_cursor(cursor)
        query = query.where(tuple_(created_at, ident) < tuple_(created, last_id))
    rows = (
        await session.scalars(query.order_by(created_at.desc(), ident.desc()).limit(limit + 1))
    ).all()
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor
