"""Adding an event to the outbox inside the caller's transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_shared.db.models import OutboxMessage
from invoicesync_shared.events.envelope import Envelope, Event


def row(event: Event, *, subject: str, key: str, source: str) -> dict[str, Any]:
    """The outbox row announcing ``event``, as column values: for a caller that writes it
    in a statement of its own making (one round trip with the change it announces)."""
    envelope = Envelope.wrap(event, source=source, subject=subject, key=key)
    return {
        "event_id": uuid.UUID(envelope.id),
        "topic": event.TOPIC,
        "key": key,
        "event_type": event.TYPE,
        "envelope": envelope.to_json(),
    }


def add(session: AsyncSession, event: Event, *, subject: str, key: str, source: str) -> None:
    """Stage ``event``; it is published only if the surrounding transaction commits."""
    session.add(OutboxMessage(**row(event, subject=subject, key=key, source=source)))
