"""Yuki sessions, one per access key, reused across calls. How long one lives is not
documented, so an expired-session fault means: authenticate once more and repeat."""

from __future__ import annotations

import asyncio
import copy
import hashlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from connector_yuki.errors import SessionExpired
from connector_yuki.soap import YukiSoap

T = TypeVar("T")
log = structlog.get_logger()


class SessionPool:
    def __init__(self, soap: YukiSoap) -> None:
        self._soap = soap
        # Keyed by a digest of the access key, so the key itself is not kept around.
        self._sessions: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # Per key, the last failed Authenticate: (loop time it ended, what it raised).
        self._failures: dict[str, tuple[float, Exception]] = {}

    async def call(self, access_key: str, operation: Callable[[str], Awaitable[T]]) -> T:
        """Run ``operation(session)``; on an expired session, once more with a new one.

        Raises what the operation raises; ``SessionExpired`` only if a fresh session
        is refused as well.
        """
        session = await self._session(access_key)
        try:
            return await operation(session)
        except SessionExpired:
            # Yuki refuses an expired session before doing anything: safe to repeat.
            session = await self._renew(access_key, session)
            return await operation(session)

    async def _session(self, access_key: str) -> str:
        digest = _digest(access_key)
        if session := self._sessions.get(digest):
            return session
        return await self._renew(access_key, None)

    async def _renew(self, access_key: str, stale: str | None) -> str:
        """A new session, unless another call has renewed ``stale`` meanwhile. A call that
        queued while another's Authenticate failed hears that failure instead of trying
        again: behind one lock, every waiter's own try (each up to its timeout) made a
        Yuki outage hold a hundred documents for minutes after Yuki was back."""
        digest = _digest(access_key)
        loop = asyncio.get_running_loop()
        queued_at = loop.time()
        async with self._locks.setdefault(digest, asyncio.Lock()):
            current = self._sessions.get(digest)
            if current is not None and current != stale:
                return current
            failure = self._failures.get(digest)
            if failure is not None and failure[0] >= queued_at:
                raise copy.copy(failure[1])
            try:
                session = await self._soap.authenticate(access_key)
            except Exception as exc:
                self._failures[digest] = (loop.time(), exc)
                raise
            self._failures.pop(digest, None)
            self._sessions[digest] = session
            log.info("yuki session opened", renewed=stale is not None)
            return session


def _digest(access_key: str) -> str:
    return hashlib.sha256(access_key.encode()).hexdigest()
