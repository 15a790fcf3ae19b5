"""Yuki sessions: one Authenticate per key at a time, and an outage is heard once, not
once per waiting document."""

from __future__ import annotations

import asyncio

import pytest

from connector_yuki.sessions import SessionPool
from invoicesync_shared.connectors.errors import TransientError


class SlowYuki:
    """Authenticate takes ``delay`` and fails while ``down``."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.down = True
        self.authentications = 0

    async def authenticate(self, access_key: str) -> str:
        self.authentications += 1
        await asyncio.sleep(self.delay)
        if self.down:
            raise TransientError("Yuki unreachable (ReadTimeout)")
        return f"session-{self.authentications}"


async def echo(session: str) -> str:
    return session


async def test_callers_queued_behind_a_failed_authenticate_fail_with_it() -> None:
    yuki = SlowYuki(delay=0.05)
    pool = SessionPool(yuki)  # type: ignore[arg-type]
    results = await asyncio.wait_for(
        asyncio.gather(*(pool.call("key", echo) for _ in range(20)), return_exceptions=True),
        timeout=10,
    )
    assert all(isinstance(r, TransientError) for r in results)
    assert yuki.authentications == 1  # not twenty tries, one after the other

    yuki.down = False  # Yuki is back: the next call opens a session
    assert await pool.call("key", echo) == "session-2"


async def test_a_call_after_the_failure_tries_again() -> None:
    yuki = SlowYuki(delay=0.01)
    pool = SessionPool(yuki)  # type: ignore[arg-type]
    with pytest.raises(TransientError):
        await pool.call("key", echo)
    with pytest.raises(TransientError):
        await pool.call("key", echo)
    assert yuki.authentications == 2
