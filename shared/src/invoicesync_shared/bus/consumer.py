"""At-least-once consumption: offsets are committed only after the handler has stored
its result. Partitions are processed concurrently, each in order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.metrics import CONSUMER_LAG, HANDLER_FAILURES

Handler = Callable[[Envelope], Awaitable[None]]
# What is handled one at a time, in order, when a partition's batch runs concurrently: each
# document ("subject"), or everything of one tenant ("key": one client, so one remote
# books whose rate budget counts one call at a time).
OrderScope = Literal["subject", "key"]
DeadLetter = Callable[[ConsumerRecord[bytes, bytes], str], Awaitable[None]]

log = structlog.get_logger()


class EventConsumer:
    """Runs ``handler`` for each envelope of ``topics`` in consumer group ``group_id``.

    A handler that keeps raising is retried ``max_attempts`` times with backoff; then
    the message goes to ``dead_letter`` (if given) and is committed, so one poison
    message cannot stop its partition. With ``concurrency`` above 1, up to that many
    groups of a partition's batch run at once, each group in order (``in_order_by``).
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        topics: list[str],
        group_id: str,
        handler: Handler,
        dead_letter: DeadLetter | None = None,
        max_attempts: int = 5,
        concurrency: int = 1,
        in_order_by: OrderScope = "subject",
        linger: float = 0.3,
    ) -> None:
        self._consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=600_000,
            session_timeout_ms=30_000,
            heartbeat_interval_ms=3_000,
        )
        self._handler = handler
        self._dead_letter = dead_letter
        self._max_attempts = max_attempts
        self._group = group_id
        self._concurrency = concurrency
        self._in_order_by = in_order_by
        self._linger = linger

        self._stopping = asyncio.Event()
        self.is_running = False

    async def start(self) -> None:
        await self._consumer.start()
        self.is_running = True

    def stop(self) -> None:
        """Finish the batch in hand, commit it, then return from ``run``."""
        self._stopping.set()

    async def close(self) -> None:
        self.is_running = False
        await self._consumer.stop()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                batches = await self._fetch()
                if batches:
                    await asyncio.gather(*(self._run_partition(tp, r) for tp, r in batches.items()))
            except CommitFailedError:
                # A rebalance (or a restarted broker) took our partitions while we worked:
                # the group rejoins on the next fetch and the messages come again; handlers
                # are idempotent, so nothing is lost or done twice.
                log.warning("offset commit failed after a rebalance; continuing")
            except KafkaError:
                log.exception("broker error; retrying")
                await asyncio.sleep(1.0)

    async def _fetch(self) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        """One fetch; with concurrency, keep fetching for a moment (``linger``) so that
        what arrives in several small publishes is handled together (Yuki's batches)."""
        batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
        batches = await self._consumer.getmany(timeout_ms=500, max_records=200)
        if self._concurrency == 1 or not batches:
            return batches
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._linger
        count = sum(len(records) for records in batches.values())
        while count < self._concurrency and (left := deadline - loop.time()) > 0:
            more = await self._consumer.getmany(
                timeout_ms=int(left * 1000), max_records=self._concurrency - count
            )
            for tp, records in more.items():
                batches.setdefault(tp, []).extend(records)
                count += len(records)
        return batches

    async def _run_partition(
        self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        if self._concurrency == 1:
            for record in records:
                await self._handle(record)
                await self._consumer.commit({tp: record.offset + 1})
                self._record_lag(tp, record.offset + 1)
            return
        # Many at once, still in order per group; the batch's offsets are committed when
        # all are done.
        groups: dict[bytes, list[ConsumerRecord[bytes, bytes]]] = {}
        for record in records:
            groups.setdefault(self._group_of(record), []).append(record)
        limit = asyncio.Semaphore(self._concurrency)

        async def in_order(group: list[ConsumerRecord[bytes, bytes]]) -> None:
            async with limit:
                for record in group:
                    await self._handle(record)

        await asyncio.gather(*(in_order(g) for g in groups.values()))
        await self._consumer.commit({tp: records[-1].offset + 1})
        self._record_lag(tp, records[-1].offset + 1)

    def _group_of(self, record: ConsumerRecord[bytes, bytes]) -> bytes:
        by_key = self._in_order_by == "key"
        group = record.key if by_key else dict(record.headers).get("ce_subject")
        return group or str(record.offset).encode()  # none: a group of its own

    def _record_lag(self, tp: TopicPartition, next_offset: int) -> None:
        if tp not in self._consumer.assignment():
            return  # a rebalance took it while we worked: its new owner reports the lag
        high = self._consumer.highwater(tp)
        if high is not None:
            CONSUMER_LAG.labels(self._group, tp.topic, tp.partition).set(max(0, high - next_offset))

    async def _handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            envelope = Envelope.from_kafka(dict(record.headers), record.key, record.value or b"")
        except ValueError as exc:
            log.error("undecodable message", topic=record.topic, offset=record.offset)
            await self._to_dead_letter(record, f"undecodable: {exc}")
            return
        for attempt in range(1, self._max_attempts + 1):
            try:
                await self._handler(envelope)
                return
            except Exception as exc:
                HANDLER_FAILURES.labels(self._group).inc()
                log.exception("handler failed", event_id=envelope.id, attempt=attempt)
                if attempt == self._max_attempts:
                    await self._to_dead_letter(record, f"handler failed: {exc!r}")
                    return
                await asyncio.sleep(min(0.2 * 2**attempt, 5.0))

    async def _to_dead_letter(self, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        if self._dead_letter is not None:
            await self._dead_letter(record, reason)
