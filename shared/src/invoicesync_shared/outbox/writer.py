"""Adding an event to the outbox inside the caller's transaction."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_shared.db.models import OutboxMessage
from invoicesync_shared.events.envelope import Envelope, Event


def add(session: AsyncSession, event: Event, *, subject: str, key: str, source: str) -> Envelope:
    """Stage ``event``; it is published only if the surrounding transaction commits."""
    envelope = Envelope.wrap(event, source=source, subject=subject, key=key)
    session.add(
        OutboxMessage(
            event_id=uuid.UUID(envelope.id),
            topic=event.TOPIC,
            key=key,
            event_type=event.TYPE,
            envelope=envelope.to_json(),
        )
    )
    return envelope
