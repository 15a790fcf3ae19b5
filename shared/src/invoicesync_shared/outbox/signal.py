"""The outbox's commit signal: a transaction that wrote outbox rows NOTIFYs at commit (a
statement trigger on ``outbox_messages``), and the relay LISTENs, so it publishes at once
instead of at its next idle poll.

The poll stays as the safety net: a notification can be missed (the listening connection
was being replaced), and a row that committed may still be held back by the horizon (an
older transaction still running) with no further commit to announce it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

log = structlog.get_logger()

CHANNEL = "invoicesync_outbox"  # the trigger's pg_notify channel (migration 5c2d8e1f7a93)
RETRY_SECONDS = 1.0


class CommitSignal:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._notified = asyncio.Event()
        self._stopping = asyncio.Event()
        self.listening = asyncio.Event()  # set while a connection listens

    async def wait(self, within: float) -> bool:
        """True when rows were committed since the last wait (or while it waited); False
        when ``within`` seconds passed first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._notified.wait(), within)
        notified = self._notified.is_set()
        self._notified.clear()
        return notified

    async def run(self) -> None:
        """Listen on one connection of the pool (no transaction is opened on it, so it does
        not hold the horizon back); after a lost connection, listen again."""
        while not self._stopping.is_set():
            try:
                await self._listen()
            except Exception:
                log.warning("outbox commit signal lost its connection; polling meanwhile")
            self.listening.clear()
            self._notified.set()  # what was missed meanwhile is found by one more round
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), RETRY_SECONDS)

    async def _listen(self) -> None:
        async with self._engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection  # asyncpg's connection
            lost = asyncio.Event()
            driver.add_termination_listener(lambda _connection: lost.set())
            await driver.add_listener(CHANNEL, self._on_notify)
            self.listening.set()
            try:
                stopping = asyncio.create_task(self._stopping.wait())
                ended = asyncio.create_task(lost.wait())
                await asyncio.wait((stopping, ended), return_when=asyncio.FIRST_COMPLETED)
                for task in (stopping, ended):
                    task.cancel()
            finally:
                if not driver.is_closed():
                    await driver.remove_listener(CHANNEL, self._on_notify)

    def _on_notify(self, *_: object) -> None:
        self._notified.set()

    def stop(self) -> None:
        self._stopping.set()
        self._notified.set()
