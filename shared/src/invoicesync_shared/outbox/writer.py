"""Adding an event to the outbox inside the caller's transaction.

Every writer builds the row as an ``OutboxRow`` (``row``): the ORM stages it (``add_row``),
and a statement of its own making (the API's accept path) binds its ``COLUMNS``.
"""

from __future__ import annotations

import uuid
from typing import Any, TypedDict

from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_shared.db.models import OutboxMessage
from invoicesync_shared.events.envelope import Envelope, Event


class OutboxRow(TypedDict):
    """The columns of an ``outbox_messages`` row that its writer sets (the database sets
    ``id``, ``write_xid`` and ``created_at``; the relay ``published_at``).

    A dict at run time, so a hand-built statement binds it as it is, at no cost."""

    event_id: uuid.UUID
    topic: str
    key: str
    event_type: str
    envelope: dict[str, Any]


# In declaration order: what a statement that writes an OutboxRow inserts.
COLUMNS: tuple[str, ...] = tuple(OutboxRow.__annotations__)


def row(event: Event, *, subject: str, key: str, source: str) -> OutboxRow:
    """The outbox row announcing ``event``."""
    envelope = Envelope.wrap(event, source=source, subject=subject, key=key)
    return OutboxRow(
        event_id=uuid.UUID(envelope.id),
        topic=event.TOPIC,
        key=key,
        event_type=event.TYPE,
        envelope=envelope.to_json(),
    )


def add_row(session: AsyncSession, outbox_row: OutboxRow) -> None:
    """Stage ``outbox_row``; it is published only if the surrounding transaction commits."""
    session.add(OutboxMessage(**outbox_row))


def add(session: AsyncSession, event: Event, *, subject: str, key: str, source: str) -> None:
    """Stage ``event``; it is published only if the surrounding transaction commits."""
    add_row(session, row(event, subject=subject, key=key, source=source))
