"""A producer that keeps what it is given: the runtime's output, for assertions."""

from __future__ import annotations

from collections.abc import Sequence

from invoicesync_shared.events.envelope import Envelope


class RecordingProducer:
    """Same surface as ``EventProducer``; nothing leaves the process."""

    def __init__(self) -> None:
        self.published: list[tuple[str, Envelope]] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, topic: str, envelope: Envelope) -> None:
        self.published.append((topic, envelope))

    async def publish_many(self, messages: Sequence[tuple[str, Envelope]]) -> None:
        self.published.extend(messages)

    def of_type(self, event_type: str) -> list[Envelope]:
        return [e for _, e in self.published if e.type == event_type]
