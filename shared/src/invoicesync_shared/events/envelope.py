"""The CloudEvents 1.0 envelope every message travels in (Kafka binary mode, JSON data)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from cloudevents.core.bindings import kafka
from cloudevents.core.v1.event import CloudEvent
from pydantic import BaseModel, ConfigDict

from invoicesync_shared import clock
from invoicesync_shared.tracing import current_traceparent


class Event(BaseModel):
    """Base of every event payload; ``TYPE`` is its CloudEvent type, ``TOPIC`` its topic.

    Schemas only grow by optional fields; unknown fields are ignored so an older reader
    accepts a newer writer's events.
    """

    TYPE: ClassVar[str]
    TOPIC: ClassVar[str]
    model_config = ConfigDict(frozen=True, extra="ignore")


@dataclass(frozen=True)
class Envelope:
    """One CloudEvent: attributes plus JSON data, keyed by tenant (client id)."""

    type: str
    source: str
    subject: str
    key: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=clock.now)
    traceparent: str | None = None

    @classmethod
    def wrap(
        cls, event: Event, *, source: str, subject: str, key: str, event_id: str | None = None
    ) -> Envelope:
        """Wrap ``event``; it carries the current trace (if any) to its consumers.
        ``event_id`` is a deterministic id (the same fact is the same event); else random."""
        return cls(
            id=event_id or str(uuid.uuid4()),
            type=event.TYPE,
            source=source,
            subject=subject,
            key=key,
            data=event.model_dump(mode="json"),
            traceparent=current_traceparent(),
        )

    def to_json(self) -> dict[str, Any]:
        """The form stored in the outbox, from which ``from_json`` rebuilds it."""
        return {
            "id": self.id,
            "type": self.type,
            "source": self.source,
            "subject": self.subject,
            "key": self.key,
            "time": self.time.isoformat(),
            "data": self.data,
            "traceparent": self.traceparent,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Envelope:
        return cls(
            id=raw["id"],
            type=raw["type"],
            source=raw["source"],
            subject=raw["subject"],
            key=raw["key"],
            time=datetime.fromisoformat(raw["time"]),
            data=raw["data"],
            traceparent=raw.get("traceparent"),
        )

    def to_kafka(self) -> kafka.KafkaMessage:
        attributes: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "source": self.source,
            "subject": self.subject,
            "time": self.time,
            "datacontenttype": "application/json",
        }
        if self.traceparent:
            attributes["traceparent"] = self.traceparent
        return kafka.to_binary_event(
            CloudEvent(attributes, self.data), key_mapper=lambda _: self.key
        )

    @classmethod
    def from_kafka(cls, headers: dict[str, bytes], key: bytes | None, value: bytes) -> Envelope:
        """Decode a binary-mode message; raises ValueError for anything that is not one."""
        try:
            event = kafka.from_binary_event(
                kafka.KafkaMessage(headers=headers, key=key, value=value)
            )
        except Exception as exc:  # the SDK raises several unrelated types
            raise ValueError(f"not a CloudEvent: {exc}") from exc
        data = event.get_data()
        if not isinstance(data, dict):
            raise ValueError("CloudEvent data is not a JSON object")
        return cls(
            id=event.get_id(),
            type=event.get_type(),
            source=event.get_source(),
            subject=event.get_subject() or "",
            key=(key or b"").decode(),
            data=data,
            time=event.get_time() or clock.now(),
            traceparent=event.get_extension("traceparent"),
        )
