"""The error brake: stop calling an endpoint before the accounting system blocks the app.

Exact blocks an app for about an hour (longer while errors go on) after more than 10
errors (400/401/403/404) per endpoint and division within an hour. The count lives in
PostgreSQL, so every replica and every restart sees the same hour; a call first reserves
its place (``in_flight``), so replicas calling at once can never together exceed the
allowance: at most ``allowance`` errors and reservations per key in the rolling window.
Times are the database's.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta

from sqlalchemy import Boolean, Interval, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.errors import TransientError

WINDOW = timedelta(hours=1)
# A reservation outlives its call only when the process died during it.
IN_FLIGHT_LAPSE = timedelta(minutes=2)

# Taken in a statement of its own: the count after it must see (with a snapshot taken
# after the lock) every reservation committed by whoever held the lock before.
_LOCK = text("SELECT pg_advisory_xact_lock(:lock_key)")
_RESERVE = text(
    """
    WITH used AS (
        SELECT count(*) AS n, min(at) FILTER (WHERE state = 'error') AS oldest_error
        FROM connector_call_errors
        WHERE system = :system AND scope = :scope AND endpoint = :endpoint
          AND ((state = 'error' AND at > now() - :window)
               OR (state = 'in_flight' AND at > now() - :lapse))
    ),
    reserved AS (
        INSERT INTO connector_call_errors (system, scope, endpoint, state, at)
        SELECT :system, :scope, :endpoint, 'in_flight', now() FROM used WHERE n < :allowance
        RETURNING id
    )
    SELECT (SELECT id FROM reserved) AS id,
           extract(epoch FROM (SELECT oldest_error FROM used) + :window - now()) AS wait
    """
).bindparams(bindparam("window", type_=Interval()), bindparam("lapse", type_=Interval()))

_SETTLE = text(
    """
    WITH settled AS (
        UPDATE connector_call_errors SET state = 'error', at = now()
        WHERE id = :id AND :failed RETURNING id
    ),
    freed AS (DELETE FROM connector_call_errors WHERE id = :id AND NOT :failed)
    DELETE FROM connector_call_errors
    WHERE system = :system AND scope = :scope AND endpoint = :endpoint
      AND at < now() - :window
    """
).bindparams(bindparam("window", type_=Interval()), bindparam("failed", type_=Boolean()))


class ErrorBudgetSpent(TransientError):
    """Held back by our own brake, not refused by the system: retried after the wait
    (the document waits, shown as ``error_limit``, when that is longer than a retry)."""

    wait_reason = "error_limit"


class ErrorBrake:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        system: str,
        allowance: int,
        window: timedelta = WINDOW,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._system = system
        self._allowance = allowance
        self._window = window

    @contextlib.asynccontextmanager
    async def call(self, scope: str, endpoint: str) -> AsyncIterator[Attempt]:
        """Reserve a place for one call; the body says through ``attempt.failed()`` whether
        the system counted it as an error. Raises ``ErrorBudgetSpent`` when the hour's
        allowance is used up (or taken by calls in flight)."""
        keys = {"system": self._system, "scope": scope, "endpoint": endpoint}
        async with self._sessionmaker.begin() as session:
            await session.execute(_LOCK, {"lock_key": _lock_key(keys)})
            row = (
                await session.execute(
                    _RESERVE,
                    {
                        **keys,
                        "allowance": self._allowance,
                        "window": self._window,
                        "lapse": IN_FLIGHT_LAPSE,
                    },
                )
            ).one()
        if row.id is None:
            wait = float(row.wait) if row.wait is not None else 1.0
            raise ErrorBudgetSpent(
                f"held back: {self._allowance} errors on this {self._system} endpoint "
                f"({endpoint}) within the hour; sending resumes in {max(wait, 1.0):.0f} s, "
                "before the system would block the connection",
                retry_after=max(wait, 1.0),
            )
        attempt = Attempt()
        try:
            yield attempt
        finally:
            async with self._sessionmaker.begin() as session:
                await session.execute(
                    _SETTLE,
                    {**keys, "id": row.id, "failed": attempt.is_error, "window": self._window},
                )


class Attempt:
    """Whether the reserved call ended in an error the system counts."""

    def __init__(self) -> None:
        self.is_error = False

    def failed(self) -> None:
        self.is_error = True


def _lock_key(keys: dict[str, str]) -> int:
    digest = hashlib.blake2b("/".join(keys.values()).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
