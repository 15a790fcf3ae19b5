"""Publishing envelopes to Kafka: acks from all replicas, at-least-once (no idempotent
producer, which the embedded broker lacks; consumers dedup by event id)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer

from invoicesync_shared.events.envelope import Envelope


class Publisher(Protocol):
    """What the runtime needs of a producer (tests pass a recording fake)."""

    async def publish(self, topic: str, envelope: Envelope) -> None: ...


class EventProducer:
    def __init__(self, bootstrap: str, *, client_id: str) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            acks="all",
            enable_idempotence=False,
            linger_ms=5,
            request_timeout_ms=15_000,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, topic: str, envelope: Envelope) -> None:
        await self.publish_many([(topic, envelope)])

    async def publish_many(self, messages: Sequence[tuple[str, Envelope]]) -> None:
        """Send all, then wait for every acknowledgement; raises if any was not stored."""
        futures = []
        for topic, envelope in messages:
            message = envelope.to_kafka()
            key = message.key.encode() if isinstance(message.key, str) else message.key
            futures.append(
                await self._producer.send(
                    topic, message.value, key=key, headers=list(message.headers.items())
                )
            )
        for future in futures:
            await future
