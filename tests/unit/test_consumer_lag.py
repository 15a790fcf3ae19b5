"""The lag gauge after a rebalance: a partition taken away while its batch was handled
must not stop the consumer (aiokafka asserts on the highwater of an unassigned one)."""

from __future__ import annotations

from aiokafka import TopicPartition

from invoicesync_shared.bus.consumer import EventConsumer
from invoicesync_shared.events.envelope import Envelope


async def _ignore(envelope: Envelope) -> None:
    return None


async def test_lag_of_a_partition_no_longer_assigned_is_left_to_its_new_owner() -> None:
    consumer = EventConsumer(
        "127.0.0.1:9", topics=["invoicesync.documents"], group_id="g", handler=_ignore
    )
    try:
        consumer._record_lag(TopicPartition("invoicesync.documents", 0), 42)  # does not raise
    finally:
        await consumer.close()
