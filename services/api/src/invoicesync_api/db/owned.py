"""Reading a partner's own row by id: the one ownership check every repository makes."""

from __future__ import annotations

import uuid
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.errors.exceptions import NotFound
from invoicesync_api.i18n.catalog import N_


class PartnerOwned(Protocol):
    @property
    def partner_id(self) -> uuid.UUID: ...


Row = TypeVar("Row", bound=PartnerOwned)
# One whole sentence per kind of row: a noun alone cannot be translated ("Kein Kunde",
# "Keine Rechnung").
NO_SUCH = {
    "API key": N_("No such API key."),
    "notification": N_("No such notification."),
    "integration": N_("No such integration."),
    "sync run": N_("No such sync run."),
    "client": N_("No such client."),
    "invoice": N_("No such invoice."),
    "credit note": N_("No such credit note."),
    "document": N_("No such document."),
    "webhook endpoint": N_("No such webhook endpoint."),
}


async def get_owned(
    session: AsyncSession, model: type[Row], row_id: uuid.UUID, partner_id: uuid.UUID, what: str
) -> Row:
    """The partner's row; raises ``NotFound`` ("No such <what>.") for a missing or a
    foreign id alike, so another partner's ids are never confirmed."""
    row = await session.get(model, row_id)
    if row is None or row.partner_id != partner_id:
        raise NotFound(NO_SUCH.get(what, N_("Not found.")))
    return row
