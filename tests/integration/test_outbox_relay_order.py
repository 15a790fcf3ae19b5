"""Several outbox relays and concurrent writers: the broker gets one client's events in the
order they were written.

"Written" is the order of the writing transactions, each writing its events at once (as
the API's accept, edit and retry do): a writer that starts writing first comes first even
when it commits last, because its id and its events were taken first. The script below is
run step by step, with a round of every relay between steps, so each interleaving the
relays see is the same on every run.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic import SecretStr
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from invoicesync_shared.bus.producer import EventProducer
from invoicesync_shared.db.engine import create_engine, create_sessionmaker
from invoicesync_shared.db.models import OutboxMessage
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.outbox.relay import OutboxRelay
from tests.support.databases import fresh_database

BOUND = 60.0  # seconds: a failure shows as a timeout, not a hang
CLIENTS = ["client-a", "client-b", "client-c"]
RELAYS = 3
WRITERS = 4
STEPS = 40


@pytest.fixture
def outbox_database(postgres_admin_url: str, database_template: str) -> Iterator[str]:
    """Its own database: the relays must see no one else's outbox rows."""
    with fresh_database(postgres_admin_url, database_template) as url:
        yield url


async def _topic(bootstrap: str) -> str:
    name = f"test.outbox-order.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    return name


class Relays:
    """``RELAYS`` relays, each with its own engine (connections) and producer."""

    def __init__(self, url: str, bootstrap: str) -> None:
        self.engines = [
            create_engine(SecretStr(url), application_name=f"relay-{n}") for n in range(RELAYS)
        ]
        self.producers = [EventProducer(bootstrap, client_id=f"relay-{n}") for n in range(RELAYS)]
        self.relays = [
            OutboxRelay(create_sessionmaker(engine), producer, batch_size=5)
            for engine, producer in zip(self.engines, self.producers, strict=True)
        ]
        self.published = 0  # rows published, copies included

    async def round(self) -> int:
        """One batch of every relay at once; how many rows they published."""
        published = sum(await asyncio.gather(*(relay.relay_batch() for relay in self.relays)))
        self.published += published
        return published


@pytest.fixture
async def relays(outbox_database: str, kafka_bootstrap: str) -> AsyncIterator[Relays]:
    made = Relays(outbox_database, kafka_bootstrap)
    for producer in made.producers:
        await producer.start()
    yield made
    for producer in made.producers:
        await producer.stop()
    for engine in made.engines:
        await engine.dispose()


class Writers:
    """Open transactions on their own connections; each records what it wrote, in order."""

    def __init__(self, engine: AsyncEngine, topic: str) -> None:
        self._engine = engine
        self._topic = topic
        self._open: dict[int, AsyncConnection] = {}
        self.written: dict[str, list[str]] = defaultdict(list)  # client → event ids in order
        self._count = 0

    def is_open(self, writer: int) -> bool:
        return writer in self._open

    async def write(self, writer: int, client: str, events: int) -> None:
        """Begin a transaction on ``writer`` and insert ``events`` events of ``client``:
        they are written now, whenever the transaction commits."""
        assert writer not in self._open
        connection = await self._engine.connect()
        await connection.begin()
        for _ in range(events):
            self._count += 1
            envelope = Envelope(
                type="test.written",
                source="/tests",
                subject=f"{client}-{self._count}",
                key=client,
                data={"n": self._count},
            )
            await connection.execute(
                insert(OutboxMessage).values(
                    event_id=uuid.UUID(envelope.id),
                    topic=self._topic,
                    key=client,
                    event_type=envelope.type,
                    envelope=envelope.to_json(),
                )
            )
            self.written[client].append(envelope.id)
        self._open[writer] = connection

    async def commit(self, writer: int) -> None:
        connection = self._open.pop(writer)
        await connection.commit()
        await connection.close()

    async def close(self) -> None:
        for writer in list(self._open):
            await self.commit(writer)


async def _received(bootstrap: str, topic: str, expected: int) -> dict[str, list[str]]:
    """Each client's event ids in the order the broker holds them, first copies only
    (after a failed publish a relay sends a row again; consumers dedup by id)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    received: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    try:
        async with asyncio.timeout(BOUND):
            while len(seen) < expected:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        headers = {k: v for k, v in record.headers}
                        envelope = Envelope.from_kafka(headers, record.key, record.value)
                        if envelope.id not in seen:
                            seen.add(envelope.id)
                            received[envelope.key].append(envelope.id)
    finally:
        await consumer.stop()
    return received


async def _unpublished(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(
            select(func.count()).where(OutboxMessage.published_at.is_(None))
        )
    return int(count or 0)


async def test_relays_keep_each_clients_events_in_written_order(
    relays: Relays, outbox_database: str, kafka_bootstrap: str
) -> None:
    topic = await _topic(kafka_bootstrap)
    engine = create_engine(SecretStr(outbox_database), application_name="writers")
    writers = Writers(engine, topic)
    rng = random.Random(157)
    try:
        # Writer 0 takes its id first and commits last, with rows of client-a after it.
        await writers.write(0, CLIENTS[0], events=2)
        for _ in range(STEPS):
            writer = rng.randrange(1, WRITERS)
            if writers.is_open(writer):
                await writers.commit(writer)
            else:
                await writers.write(writer, rng.choice(CLIENTS), events=rng.randint(1, 2))
                if rng.random() < 0.5:
                    await writers.commit(writer)
            await relays.round()
        assert len(writers.written[CLIENTS[0]]) > 2, "the script writes after writer 0"
        await writers.close()

        async with asyncio.timeout(BOUND):  # the oldest transaction on the server may lag
            while await _unpublished(engine):
                if not await relays.round():
                    await asyncio.sleep(0.05)
        total = sum(len(ids) for ids in writers.written.values())
        received = await _received(kafka_bootstrap, topic, total)
    finally:
        await writers.close()
        await engine.dispose()

    for client in CLIENTS:
        assert received[client] == writers.written[client], client
    # Two relays never published one client at once: no event went out twice.
    assert relays.published == total
