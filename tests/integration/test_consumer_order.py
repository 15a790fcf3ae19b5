"""A concurrent consumer keeps order within a group and lets the other groups of the
same partition go on: by key, one tenant waiting (Exact's division at its minute limit)
does not hold up another tenant's documents, and its own stay one at a time, in order."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from invoicesync_shared import clock
from invoicesync_shared.bus.consumer import EventConsumer, Handler
from invoicesync_shared.bus.producer import EventProducer
from invoicesync_shared.connectors.rate_limit import WindowBudget
from invoicesync_shared.events.envelope import Envelope

BOUND = 20.0  # seconds: a failure shows as a timeout, not a hang


async def _topic(bootstrap: str, partitions: int = 1) -> str:
    name = f"test.consumer-order.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()
    return name


def _by_key(bootstrap: str, topic: str, handle: Handler, concurrency: int = 4) -> EventConsumer:
    """A consumer of its own group, four records at a time, in order per tenant (key)."""
    return EventConsumer(
        bootstrap,
        topics=[topic],
        group_id=f"test-order-{uuid.uuid4().hex[:8]}",
        handler=handle,
        max_attempts=1,
        concurrency=concurrency,
        in_order_by="key",
        session_timeout=6,  # the embedded broker holds a join for half of it
    )


def _event(tenant: str, n: int) -> Envelope:
    return Envelope(
        type="test.event", source="/tests", subject=f"{tenant}{n}", key=tenant, data={"n": n}
    )


async def test_by_key_one_waiting_tenant_does_not_hold_up_another(kafka_bootstrap: str) -> None:
    topic = await _topic(kafka_bootstrap)
    producer = EventProducer(kafka_bootstrap, client_id="test-order")
    await producer.start()
    try:  # all in the one partition, before the consumer joins: one batch
        await producer.publish_many(
            [(topic, _event("a", n)) for n in (1, 2, 3)] + [(topic, _event("b", n)) for n in (1, 2)]
        )
    finally:
        await producer.stop()

    log: list[str] = []
    b_done, all_done = asyncio.Event(), asyncio.Event()

    async def handle(envelope: Envelope) -> None:
        log.append(f"start {envelope.subject}")
        if envelope.subject == "a1":
            await asyncio.wait_for(b_done.wait(), BOUND)  # a waits until b is through
        log.append(f"end {envelope.subject}")
        if envelope.subject == "b2":
            b_done.set()
        if sum(entry.startswith("end") for entry in log) == 5:
            all_done.set()

    consumer = _by_key(kafka_bootstrap, topic, handle)
    await consumer.start()
    running = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(all_done.wait(), 60)
    finally:
        consumer.stop()
        await running
        await consumer.close()

    assert log.index("end b2") < log.index("end a1")  # b went on while a waited
    a_entries = [entry for entry in log if entry.split()[1].startswith("a")]
    assert a_entries == ["start a1", "end a1", "start a2", "end a2", "start a3", "end a3"]


async def test_a_waiting_tenant_holds_back_neither_later_fetches_nor_more_than_its_offset(
    kafka_bootstrap: str,
) -> None:
    """b's record is published after a's began and waits: it must still be fetched and
    handled meanwhile; the partition's committed offset stays at a's record until a ends
    (committing past it would lose it on a restart)."""
    topic = await _topic(kafka_bootstrap)
    tp = TopicPartition(topic, 0)
    producer = EventProducer(kafka_bootstrap, client_id="test-order")
    await producer.start()
    a_started, b_done, a_done = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def handle(envelope: Envelope) -> None:
        if envelope.subject == "a1":
            a_started.set()
            await asyncio.wait_for(b_done.wait(), BOUND)
            a_done.set()
        elif envelope.subject == "b1":
            b_done.set()

    consumer = _by_key(kafka_bootstrap, topic, handle)
    await consumer.start()
    running = asyncio.create_task(consumer.run())
    try:
        await producer.publish_many([(topic, _event("a", 1))])
        await asyncio.wait_for(a_started.wait(), 60)
        await producer.publish_many([(topic, _event("b", 1))])  # a later fetch
        await asyncio.wait_for(b_done.wait(), BOUND)
        committed_while_a_waits = await consumer._consumer.committed(tp)
        await asyncio.wait_for(a_done.wait(), BOUND)
        consumer.stop()
        await running  # commits what is finished
        committed_at_the_end = await consumer._consumer.committed(tp)
    finally:
        consumer.stop()
        await running
        await consumer.close()
        await producer.stop()
    assert committed_while_a_waits in (None, 0)
    assert committed_at_the_end == 2


async def test_the_backlog_counts_every_record_not_finished_fetched_or_not(
    kafka_bootstrap: str,
) -> None:
    """What a batcher waits for: while one tenant's first record is in hand, the backlog
    is every record of the partition not finished yet, however many one fetch brought;
    once all are handled it is none."""
    topic = await _topic(kafka_bootstrap)
    producer = EventProducer(kafka_bootstrap, client_id="test-order")
    await producer.start()
    try:
        await producer.publish_many([(topic, _event("a", n)) for n in range(1, 11)])
    finally:
        await producer.stop()
    first_started, release, all_done = asyncio.Event(), asyncio.Event(), asyncio.Event()
    handled: list[str] = []

    async def handle(envelope: Envelope) -> None:
        if envelope.subject == "a1":
            first_started.set()
            await asyncio.wait_for(release.wait(), BOUND)
        handled.append(str(envelope.subject))
        if len(handled) == 10:
            all_done.set()

    consumer = _by_key(kafka_bootstrap, topic, handle)
    await consumer.start()
    running = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(first_started.wait(), 60)
        while_held = consumer.backlog()
        release.set()
        await asyncio.wait_for(all_done.wait(), BOUND)
        consumer.stop()
        await running
        at_the_end = consumer.backlog()
    finally:
        release.set()
        consumer.stop()
        await running
        await consumer.close()
    assert while_held == 10
    assert at_the_end == 0


async def test_tenants_waiting_for_their_budgets_do_not_hold_the_slots(
    kafka_bootstrap: str,
) -> None:
    """Two slots; tenants a and b have spent their minute (Exact's window budget), c has
    budget left. c is handled while a and b wait for their resets, not after them: a
    wait for a budget holds no slot (else as many waiting tenants as slots stop every
    other tenant, and 100 divisions on 32 slots use a third of their budgets). Each
    tenant's records still go one at a time, in order."""
    topic = await _topic(kafka_bootstrap)
    producer = EventProducer(kafka_bootstrap, client_id="test-order")
    await producer.start()
    try:  # one batch: a1 and b1 take the two slots first
        await producer.publish_many(
            [(topic, _event(t, n)) for t, n in (("a", 1), ("b", 1), ("c", 1), ("a", 2))]
        )
    finally:
        await producer.stop()

    budget = WindowBudget(reserve=0)
    log: list[str] = []
    all_done = asyncio.Event()

    async def handle(envelope: Envelope) -> None:
        if not log:  # the group has joined: a's and b's minutes are spent for 3 s more
            for tenant in "ab":
                budget.observe(tenant, remaining=0, reset_at=clock.now().timestamp() + 3.0)
        log.append(f"start {envelope.subject}")
        await budget.acquire(envelope.key)
        log.append(f"end {envelope.subject}")
        if sum(entry.startswith("end") for entry in log) == 4:
            all_done.set()

    consumer = _by_key(kafka_bootstrap, topic, handle, concurrency=2)
    await consumer.start()
    running = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(all_done.wait(), 60)
    finally:
        consumer.stop()
        await running
        await consumer.close()

    assert budget.waited_seconds > 0  # a and b did wait for their resets
    assert log.index("end c1") < min(log.index("end a1"), log.index("end b1")), log
    a_entries = [entry for entry in log if entry.split()[1].startswith("a")]
    assert a_entries == ["start a1", "end a1", "start a2", "end a2"]


async def test_every_partition_has_its_tenants_worked_from_the_start(
    kafka_bootstrap: str,
) -> None:
    """Two partitions, each with a backlog of ten tenants (more than the fetch buffer
    holds). The first records handled come from both partitions: one partition's fetch
    must not fill the buffer and leave the other's tenants idle until it drains (in the
    fleet bench the median Exact division got 0.07 of its budget and the fastest 0.37)."""
    topic = await _topic(kafka_bootstrap, partitions=2)
    per_tenant = 60  # 2 x 10 tenants x 60 = 1,200 records, the buffer holds 500
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for n in range(per_tenant):
            for partition, prefix in enumerate("ab"):
                for t in range(10):
                    message = _event(f"{prefix}{t}-", n).to_kafka()
                    await producer.send(
                        topic,
                        message.value,
                        key=f"{prefix}{t}".encode(),
                        headers=list(message.headers.items()),
                        partition=partition,
                    )
        await producer.flush()
    finally:
        await producer.stop()

    handled: list[str] = []
    enough = asyncio.Event()

    async def handle(envelope: Envelope) -> None:
        handled.append(str(envelope.key))
        if len(handled) == 200:
            enough.set()
        await asyncio.sleep(0)  # a handler awaits something: the other lanes take turns

    consumer = _by_key(kafka_bootstrap, topic, handle, concurrency=2)
    await consumer.start()
    running = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(enough.wait(), 60)
    finally:
        consumer.stop()
        await running
        await consumer.close()

    first = handled[:100]
    from_each = {prefix: sum(key.startswith(prefix) for key in first) for prefix in "ab"}
    assert min(from_each.values()) >= 25, from_each
