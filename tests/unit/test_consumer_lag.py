"""The lag gauge: records behind the high watermark per assigned partition, never below
zero; after a rebalance, a partition taken away while its batch was handled is left to
its new owner (aiokafka asserts on the highwater of an unassigned one)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import TopicPartition
from prometheus_client import REGISTRY

from invoicesync_shared.bus.consumer import EventConsumer
from invoicesync_shared.events.envelope import Envelope

TOPIC = "invoicesync.documents"
OURS, TAKEN = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


async def _ignore(envelope: Envelope) -> None:
    return None


@pytest.fixture
async def consumer(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[EventConsumer]:
    """A consumer of a group of its own (so its gauges are this test's) holding
    partition 0 of the topic, whose high watermark is 50; partition 1 went elsewhere."""
    consumer = EventConsumer(
        "127.0.0.1:9", topics=[TOPIC], group_id=f"g-{uuid.uuid4()}", handler=_ignore
    )
    highwater = {OURS: 50}

    def assigned_highwater(tp: TopicPartition) -> int | None:
        assert tp in highwater, "Partition is not assigned"  # as aiokafka does
        return highwater[tp]

    monkeypatch.setattr(consumer._consumer, "assignment", lambda: set(highwater))
    monkeypatch.setattr(consumer._consumer, "highwater", assigned_highwater)
    try:
        yield consumer
    finally:
        await consumer.close()


def lag(consumer: EventConsumer, tp: TopicPartition) -> float | None:
    labels = {"group": consumer._group, "topic": tp.topic, "partition": str(tp.partition)}
    return REGISTRY.get_sample_value("invoicesync_consumer_lag", labels)


async def test_lag_is_what_the_partition_holds_beyond_the_next_offset(
    consumer: EventConsumer,
) -> None:
    consumer._record_lag(OURS, 42)
    assert lag(consumer, OURS) == 8
    consumer._record_lag(OURS, 50)
    assert lag(consumer, OURS) == 0


async def test_lag_never_goes_below_zero_on_a_stale_high_watermark(
    consumer: EventConsumer,
) -> None:
    consumer._record_lag(OURS, 53)
    assert lag(consumer, OURS) == 0


async def test_lag_of_a_partition_no_longer_assigned_is_left_to_its_new_owner(
    consumer: EventConsumer,
) -> None:
    consumer._record_lag(TAKEN, 42)  # does not raise
    assert lag(consumer, TAKEN) is None  # nothing reported for it here


async def test_lag_is_left_as_it_was_while_the_high_watermark_is_unknown(
    consumer: EventConsumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer._record_lag(OURS, 42)
    monkeypatch.setattr(consumer._consumer, "highwater", lambda tp: None)
    consumer._record_lag(OURS, 45)
    assert lag(consumer, OURS) == 8
