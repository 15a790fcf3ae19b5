"""The API process's loops: webhook deliveries, the sweeper, the nightly scheduler and
retention (PostgreSQL only), the outbox relay and the result consumer (the broker)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.integrations.auto_resume import PausedReleaser
from invoicesync_api.settings import ApiSettings
from invoicesync_api.sync.results import CONSUMER, ResultApplier
from invoicesync_api.webhooks.delivery import WebhookDispatcher
from invoicesync_api.workers.retention import RetentionJob
from invoicesync_api.workers.scheduler import NightlyScheduler
from invoicesync_api.workers.sweeper import PendingSweeper
from invoicesync_shared.bus.consumer import EventConsumer
from invoicesync_shared.bus.producer import EventProducer
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.events import topics
from invoicesync_shared.outbox.relay import OutboxRelay


class BackgroundWorkers:
    """Built in ``start`` (aiokafka objects need the running loop), stopped gracefully."""

    def __init__(
        self, settings: ApiSettings, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        self._settings = settings
        self._sessionmaker = sessionmaker
        self._producer: EventProducer | None = None
        self._relay: OutboxRelay | None = None
        self._results: EventConsumer | None = None
        self._webhooks: WebhookDispatcher | None = None
        self._loops: list[PendingSweeper | NightlyScheduler | RetentionJob | PausedReleaser] = []

        self._tasks: list[asyncio.Task[None]] = []
        self._starting: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Returns at once: joining the consumer group can take a while (tens of seconds
        after a crash), and the API must answer HTTP meanwhile; /readyz says when done."""
        self._starting = asyncio.create_task(self._start(), name="workers-start")

    async def _start(self) -> None:
        """The loops that need only PostgreSQL first: webhook deliveries (a test event, a
        replay) and the sweeper must not wait for the broker, whose group join can take
        half a minute after a crash; then the outbox relay and the result consumer."""
        self._webhooks = WebhookDispatcher(
            self._sessionmaker, SecretBox(self._settings.encryption_keys), self._settings.webhooks
        )
        self._loops = [
            PendingSweeper(
                self._sessionmaker,
                pending_after=timedelta(seconds=self._settings.sweeper_pending_seconds),
                overdue_after=timedelta(seconds=self._settings.sweeper_overdue_seconds),
                interval=self._settings.sweeper_interval_seconds,
                batch_size=self._settings.sweeper_batch_size,
            ),
            NightlyScheduler(
                self._sessionmaker, interval=self._settings.scheduler_interval_seconds
            ),
            RetentionJob(
                self._sessionmaker,
                self._settings.retention_windows(),
                batch_size=self._settings.retention_batch_size,
                interval=self._settings.retention_interval_seconds,
            ),
        ]
        if self._settings.brake_auto_resume_seconds > 0:
            self._loops.append(
                PausedReleaser(
                    self._sessionmaker,
                    {s: self._settings.connector_url(s) for s in ("exact", "lexware", "yuki")},
                    interval=self._settings.brake_auto_resume_seconds,
                    timeout=self._settings.preview_timeout_seconds,
                )
            )
        self._tasks = [asyncio.create_task(loop.run()) for loop in self._loops]
        self._tasks.append(asyncio.create_task(self._webhooks.run(), name="webhook-dispatcher"))

        bootstrap = self._settings.kafka_bootstrap
        self._producer = EventProducer(bootstrap, client_id="invoicesync-api")
        await self._producer.start()
        self._relay = OutboxRelay(self._sessionmaker, self._producer)
        self._results = EventConsumer(
            bootstrap,
            topics=[topics.SYNC_RESULTS],
            group_id=CONSUMER,
            handler=ResultApplier(self._sessionmaker).handle,
            concurrency=self._settings.results_concurrency,
            in_order_by="subject",  # a document's results (an integration's loss) in order
            session_timeout=self._settings.kafka_session_timeout_seconds,
        )
        self._tasks.append(asyncio.create_task(self._relay.run(), name="outbox-relay"))
        await self._results.start()
        self._tasks.append(asyncio.create_task(self._results.run(), name="result-consumer"))

    def broker_ok(self) -> bool:
        running = self._results is not None and self._results.is_running
        return running and bool(self._tasks) and not any(t.done() for t in self._tasks)

    async def stop(self) -> None:
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
            await asyncio.gather(self._starting, return_exceptions=True)
        if self._relay is not None:
            self._relay.stop()
        if self._results is not None:
            self._results.stop()
        if self._webhooks is not None:
            self._webhooks.stop()
        for loop in self._loops:
            loop.stop()

        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._results is not None:
            await self._results.close()
        if self._producer is not None:
            await self._producer.stop()
