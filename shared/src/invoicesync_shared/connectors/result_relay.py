"""The connector's outbox relay: a result recorded with its outcome but whose publish was
never confirmed (a crash right after the commit, the bus away) is published again.

Result ids are deterministic, so a result published twice (by the runtime and by the
relay, or by two replicas' relays) is applied once by the API's inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog
from prometheus_client import Counter

from invoicesync_shared.bus.producer import Publisher
from invoicesync_shared.connectors.ledger import Ledger
from invoicesync_shared.events import topics

log = structlog.get_logger()

# Longer than the runtime takes from its commit to its own publish, so the relay does
# not race every fresh result.
DEFAULT_GRACE = timedelta(seconds=5)
DEFAULT_INTERVAL = 5.0
BATCH = 100

REPUBLISHED = Counter(
    "invoicesync_results_republished_total",
    "Recorded results published by the relay (their first publish was not confirmed)",
    ["system"],
)


class ResultRelay:
    """Runs beside the consumer in every connector process (a ``BackgroundLoop``)."""

    def __init__(
        self,
        ledger: Ledger,
        publisher: Publisher,
        *,
        system: str,
        grace: timedelta = DEFAULT_GRACE,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self._ledger = ledger
        self._publisher = publisher
        self._system = system
        self._grace = grace
        self._interval = interval
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        while not self._stopped.is_set():
            try:
                await self.relay_once()
            except Exception:
                log.exception("result relay round failed", system=self._system)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self._interval)

    def stop(self) -> None:
        self._stopped.set()

    async def relay_once(self) -> int:
        """Publish what is due; returns how many results it published."""
        due = await self._ledger.unpublished(older_than=self._grace, limit=BATCH)
        for key, envelope in due:
            await self._publisher.publish(topics.SYNC_RESULTS, envelope)
            await self._ledger.mark_published(key, envelope.id)
            REPUBLISHED.labels(self._system).inc()
            log.info("recorded result published by the relay", event_id=envelope.id)
        return len(due)
