"""Reading a partner's own row by id: the one ownership check every repository makes."""

from __future__ import annotations

import uuid
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.errors.exceptions import NotFound


class PartnerOwned(Protocol):
    @property
    def partner_id(self) -> uuid.UUID: ...


Row = TypeVar("Row", bound=PartnerOwned)


async def get_owned(
    session: AsyncSession, model: type[Row], row_id: uuid.UUID, partner_id: uuid.UUID, what: str
) -> Row:
    """The partner's row; raises ``NotFound`` ("No such <what>.") for a missing or a
    foreign id alike, so another partner's ids are never confirmed."""
    row = await session.get(model, row_id)
    if row is None or row.partner_id != partner_id:
        raise NotFound(f"No such {what}.")
    return row
