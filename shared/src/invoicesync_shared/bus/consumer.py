"""At-least-once consumption: offsets are committed only after the handler has stored
its result. Partitions are processed concurrently, each in order; with ``concurrency``
above 1, records are handled as they arrive, in order per group (one document, or one
tenant), and a slow tenant never holds back the next fetch."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Literal

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from invoicesync_shared.bus.offsets import PartitionProgress
from invoicesync_shared.bus.slots import Slot, running_in
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.metrics import CONSUMER_LAG, HANDLER_FAILURES

Handler = Callable[[Envelope], Awaitable[None]]
# What is handled one at a time, in order, when records run concurrently: each document
# ("subject"), or everything of one tenant ("key": one client, so one remote books whose
# rate budget counts one call at a time).
OrderScope = Literal["subject", "key"]
DeadLetter = Callable[[ConsumerRecord[bytes, bytes], str], Awaitable[None]]
# Records fetched ahead of the handlers, per concurrency slot (at least MIN_BUFFERED):
# enough that a tenant's backlog does not keep the other tenants' records unfetched. Each
# assigned partition holds at most its share of them: aiokafka hands out one partition's
# fetched records before the next's, so a partition whose fetch came first would fill the
# buffer and leave the tenants of the others idle (in the fleet bench, the median Exact
# division got 0.07 of its budget and the fastest 0.37).
BUFFERED_PER_SLOT = 8
MIN_BUFFERED = 500
# How long the broker may hold a fetch that found nothing. Kafka answers a held fetch as
# soon as a record arrives, but not every Kafka-protocol broker does: the embedded one
# (tansu) answered ~150 ms late at the client's default of 500 ms, ~3 ms at 50 (a probe
# of one record at a time). Idle, this costs a fetch every 50 ms per consumer.
FETCH_MAX_WAIT_MS = 50

log = structlog.get_logger()
_Queued = tuple[TopicPartition, PartitionProgress, ConsumerRecord[bytes, bytes]]


class EventConsumer:
    """Runs ``handler`` for each envelope of ``topics`` in consumer group ``group_id``.

    A handler that keeps raising is retried ``max_attempts`` times with backoff; then
    the message goes to ``dead_letter`` (if given) and is committed, so one poison
    message cannot stop its partition. With ``concurrency`` above 1, up to that many
    records are handled at once, each group in order (``in_order_by``), groups taking
    turns for the slots (a handler waiting for its tenant's rate budget gives its slot
    back meanwhile: ``bus.slots``); a partition's offset is committed up to its first unfinished
    record, and fetching pauses while too many records wait.
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
        session_timeout: float = 30.0,
    ) -> None:
        session_ms = int(session_timeout * 1000)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            max_poll_interval_ms=600_000,
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=session_ms // 10,
        )
        self._consumer.subscribe(topics, listener=_CommitOnRevoke(self))
        self._handler = handler
        self._dead_letter = dead_letter
        self._max_attempts = max_attempts
        self._group = group_id
        self._concurrency = concurrency
        self._in_order_by = in_order_by
        self._max_buffered = max(concurrency * BUFFERED_PER_SLOT, MIN_BUFFERED)

        self._slots = asyncio.Semaphore(concurrency)
        self._progress: dict[TopicPartition, PartitionProgress] = {}
        self._lanes: dict[bytes, deque[_Queued]] = {}
        self._lane_tasks: set[asyncio.Task[None]] = set()
        self._buffered = 0
        self._full: set[TopicPartition] = set()  # holding their share: not fetched from
        self._fetched_to: dict[TopicPartition, int] = {}  # next offset to fetch, per partition
        self._stopping = asyncio.Event()
        self.is_running = False

    async def start(self) -> None:
        await self._consumer.start()
        self.is_running = True

    def backlog(self) -> int:
        """Records this consumer holds unfinished plus those its partitions hold beyond
        what it fetched: work that is coming, however the fetches happen to fall (what
        lets a batcher wait for a full batch rather than send what one fetch brought)."""
        assigned = self._consumer.assignment()
        behind = 0
        for tp in assigned:
            high = self._consumer.highwater(tp)
            fetched = self._fetched_to.get(tp)
            if high is not None and fetched is not None:
                behind += max(0, high - fetched)
        return self._buffered + behind

    def stop(self) -> None:
        """Finish the records being handled, commit them, then return from ``run``."""
        self._stopping.set()

    async def close(self) -> None:
        self.is_running = False
        await self._consumer.stop()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._concurrency == 1:
                    await self._one_at_a_time()
                else:
                    await self._pipelined()
            except CommitFailedError:
                # A rebalance (or a restarted broker) took our partitions while we worked:
                # the group rejoins on the next fetch and the messages come again; handlers
                # are idempotent, so nothing is lost or done twice.
                log.warning("offset commit failed after a rebalance; continuing")
            except KafkaError:
                log.exception("broker error; retrying")
                await asyncio.sleep(1.0)
        if self._concurrency > 1:  # the records in hand end; those not begun come again
            await asyncio.gather(*self._lane_tasks, return_exceptions=True)
            try:
                await self._commit_finished()
            except KafkaError:
                log.warning("final offset commit failed; the last records come again")

    async def _one_at_a_time(self) -> None:
        batches = await self._consumer.getmany(timeout_ms=500, max_records=200)
        await asyncio.gather(*(self._in_sequence(tp, r) for tp, r in batches.items()))

    async def _in_sequence(
        self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        for record in records:
            await self._handle(record)
            await self._consumer.commit({tp: record.offset + 1})
            self._record_lag(tp, record.offset + 1)

    async def _pipelined(self) -> None:
        """Hand fetched records to their group's lane and go on fetching: a tenant
        waiting minutes for its rate budget holds back only its own records."""
        fetching, share = self._partitions_with_room()
        if paused := self._consumer.paused() & set(fetching):
            self._consumer.resume(*paused)
        if fetching:
            batches = await self._consumer.getmany(*fetching, timeout_ms=200, max_records=share)
        else:  # every partition holds its share: nothing fetched, but the group sees a poll
            self._consumer.pause(*self._consumer.assignment())
            batches = await self._consumer.getmany(timeout_ms=200, max_records=share)
        for tp, records in batches.items():
            progress = self._progress.setdefault(tp, PartitionProgress())
            for record in records:
                self._enqueue(tp, progress, record)
            if records:
                self._fetched_to[tp] = records[-1].offset + 1
        await self._commit_finished()

    def _partitions_with_room(self) -> tuple[list[TopicPartition], int]:
        """The assigned partitions to fetch from, and the share of the buffer each may
        hold: a partition that reached its share is left out until half of it is done
        (its records already fetched stay with aiokafka, not fetched again)."""
        assigned = self._consumer.assignment()
        share = max(1, self._max_buffered // max(1, len(assigned)))
        self._full &= assigned
        for tp in assigned:
            progress = self._progress.get(tp)
            held = progress.held if progress is not None else 0
            if held >= share:
                self._full.add(tp)
            elif held <= share // 2:
                self._full.discard(tp)
        return [tp for tp in assigned if tp not in self._full], share

    def _enqueue(
        self, tp: TopicPartition, progress: PartitionProgress, record: ConsumerRecord[bytes, bytes]
    ) -> None:
        progress.started(record.offset)
        progress.held += 1
        self._buffered += 1
        group = self._group_of(record)
        lane = self._lanes.get(group)
        if lane is None:
            lane = self._lanes[group] = deque()
            task = asyncio.create_task(self._work(group, lane), name=f"lane-{group!r}")
            self._lane_tasks.add(task)
            task.add_done_callback(self._lane_tasks.discard)
        lane.append((tp, progress, record))

    async def _work(self, group: bytes, lane: deque[_Queued]) -> None:
        """One group's records, in order, each taking a slot in turn with other groups;
        a handler waiting for its tenant's rate budget gives its slot back meanwhile
        (``slots.without_slot``) and keeps its lane's place."""
        try:
            while lane and not self._stopping.is_set():
                tp, progress, record = lane[0]
                # A partition revoked meanwhile has a new owner: its records are theirs.
                if self._progress.get(tp) is progress:
                    slot = Slot(self._slots)
                    await slot.take()
                    try:
                        if self._stopping.is_set():
                            break
                        with running_in(slot):  # given back while it waits for a budget
                            await self._handle(record)
                    finally:
                        slot.give_back()
                    progress.finished(record.offset)
                lane.popleft()
                progress.held -= 1
                self._buffered -= 1
        finally:
            self._buffered -= len(lane)  # stopping: not begun, not committed
            for _, progress, _ in lane:
                progress.held -= 1
            lane.clear()
            if self._lanes.get(group) is lane:
                del self._lanes[group]

    async def _commit_finished(self) -> None:
        assigned = self._consumer.assignment()
        offsets = {
            tp: point
            for tp, progress in self._progress.items()
            if tp in assigned and (point := progress.take_commit_point()) is not None
        }
        if offsets:
            await self._consumer.commit(offsets)
            for tp, point in offsets.items():
                self._record_lag(tp, point)

    async def _revoked(self, revoked: set[TopicPartition]) -> None:
        """Commit what is finished of partitions taken away, and forget them: records of
        theirs still queued are left to the new owner."""
        offsets: dict[TopicPartition, int] = {}
        for tp in revoked:
            self._fetched_to.pop(tp, None)
            progress = self._progress.pop(tp, None)
            if progress is not None and (point := progress.take_commit_point()) is not None:
                offsets[tp] = point
        if offsets:
            try:
                await self._consumer.commit(offsets)
            except KafkaError:
                log.warning("commit on revoke failed; those records come again")

    def _group_of(self, record: ConsumerRecord[bytes, bytes]) -> bytes:
        by_key = self._in_order_by == "key"
        group = record.key if by_key else dict(record.headers).get("ce_subject")
        # None: a group of its own.
        return group or f"{record.topic}/{record.partition}/{record.offset}".encode()

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


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: EventConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._consumer._revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        return None
