"""Rate limits per API key, and a slow-down of failed authentication per client address.

Both are GCRA (a token bucket told as one timestamp): a key may send ``burst`` requests at
once and ``per_minute`` a minute for as long as it likes. A bucket is one row holding its
theoretical arrival time (``tat``, microseconds since the epoch on the shared clock: whole
numbers, exact in a float8, so a bucket never loses a request to rounding): a request at
``now`` moves it to ``max(tat, now) + interval`` and is allowed while that is no further than
``burst * interval`` ahead of ``now``. A bucket further ahead than that cannot come from
this clock (a replica whose clock ran ahead, a clock set back) and starts full again, so a
skewed clock never locks a key or an address out.
The rows live in UNLOGGED tables shared by every replica (a crash empties them: every
bucket starts full again, which is harmless).

The key's lookup, the address's slow-down and the key's bucket are one statement, one round
trip, the one the lookup of the key took before: a limit costs no extra trip to the
database. Only a failed authentication takes a second statement (it counts the failure).
The bucket is not moved request by request: a replica leases a slice of it (the row moves on
by the slice at once) and spends it locally within LEASE_SECONDS, so one key's concurrent
requests do not queue on its row lock; the requests a lease covers run the lookup alone.

What the caller reads: ``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-
headers-11) on every answer to a request with a valid key, and ``Retry-After`` on a 429.
The answers are put on by ``RateLimitHeaders`` from what the check left on the request, so a
route's own answers and errors carry them alike.
"""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from invoicesync_api.api_keys.repository import UsableKey
from invoicesync_api.errors.exceptions import ApiError, Unauthorized
from invoicesync_api.i18n.catalog import N_
from invoicesync_shared import clock
from invoicesync_shared.db.engine import autocommit

POLICY = "default"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STATE_KEY = "rate_limit"
UNKNOWN_KEY = N_("The API key is unknown or revoked.")


class TooManyRequests(ApiError):
    status, code, title = 429, "rate_limited", N_("Too many requests")


@dataclass(frozen=True)
class Gcra:
    """A sustained rate (``per_minute``) with a burst; ``per_minute`` 0: no limit."""

    per_minute: int
    burst: int

    @property
    def on(self) -> bool:
        return self.per_minute > 0

    @property
    def interval(self) -> float:
        """Microseconds one request costs."""
        return 60e6 / self.per_minute

    @property
    def tolerance(self) -> float:
        """How far ahead of now the bucket's time may run: a full burst."""
        return self.burst * self.interval

    def policy(self) -> str:
        """The bucket as the draft's quota: ``burst`` requests per the time it takes to
        refill from empty (600 a minute with a burst of 120: q=120;w=12)."""
        return f'"{POLICY}";q={self.burst};w={max(1, math.ceil(self.tolerance / 1e6))}'

    def remaining(self, tat: float, now: float) -> int:
        return max(0, math.floor((self.tolerance - (tat - now)) / self.interval + 1e-9))

    def reset(self, tat: float, now: float) -> int:
        """Whole seconds until the bucket is full again."""
        return max(0, math.ceil((tat - now) / 1e6))

    def retry_after(self, tat: float, now: float) -> int:
        """Whole seconds until one more request fits (at least 1)."""
        return max(1, math.ceil((tat + self.interval - self.tolerance - now) / 1e6))


@dataclass(frozen=True)
class Verdict:
    """What the limit said about one request, for the answer's headers."""

    policy: str | None  # RateLimit-Policy (a valid key)
    remaining: int = 0
    reset: int = 0
    retry_after: int | None = None  # a 429

    def headers(self) -> list[tuple[bytes, bytes]]:
        headers: list[tuple[bytes, bytes]] = []
        if self.policy is not None:
            headers.append((b"ratelimit-policy", self.policy.encode()))
            headers.append((b"ratelimit", f'"{POLICY}";r={self.remaining};t={self.reset}'.encode()))
        if self.retry_after is not None:
            headers.append((b"retry-after", str(self.retry_after).encode()))
        return headers


# The key's row (by its hash, unrevoked and not past its rotation overlap; keys are stored
# hashed) with its partner's default language, and the address's
# failures: a further failure from an address past its limit would be refused, so the
# address is answered 429 before its key is even looked at (a valid key too: otherwise a
# guess that hits would still be told apart, and the slow-down would slow nothing).
_CALLER = """
caller AS (
    SELECT k.id, k.partner_id, k.scopes, k.last_used_at, p.language
    FROM api_keys k JOIN partners p ON p.id = k.partner_id
    WHERE k.key_hash = :key_hash AND k.revoked_at IS NULL
      AND (k.expires_at IS NULL OR k.expires_at > to_timestamp(:now / 1e6))
)"""
# How far a bucket may run ahead of a request's ``now`` and still count as this clock's:
# requests of several replicas (or queued in one) reach the row with ``now``s taken a little
# apart, so a full bucket is routinely a little ahead of the older ones. Only a bucket
# further ahead than this (a replica's clock ran ahead, a clock set back) starts full again.
CLOCK_SKEW_SECONDS = 60
_SKEW = str(CLOCK_SKEW_SECONDS * 1_000_000)
_BLOCKED = f"""
blocked AS (
    SELECT tat FROM auth_failure_limits
    WHERE address = :address AND tat <= :now + :fail_tolerance + {_SKEW}
      AND tat + :fail_interval - :now > :fail_tolerance
)"""
_NEVER_BLOCKED = """
blocked AS (SELECT NULL::float8 AS tat WHERE false)"""


def _step(bucket: str, cost: str = ":interval") -> str:
    """Requests worth ``cost`` microseconds on the bucket's row ``bucket`` (an alias): its time
    moves on by ``cost`` when they all fit, else stays. A time further ahead than the
    tolerance and CLOCK_SKEW_SECONDS cannot come from this clock (a replica's clock ran
    ahead, a clock set back): the bucket starts full again."""
    held = (
        f"CASE WHEN {bucket}.tat > :now + :tolerance + {_SKEW} THEN :now"
        f" ELSE greatest({bucket}.tat, :now) END"
    )
    fits = f"({held}) + {cost} - :now <= :tolerance"
    return f"tat = CASE WHEN {fits} THEN ({held}) + {cost} ELSE {bucket}.tat END, allowed = {fits}"


# The key's bucket: moved on by a whole lease (``slice`` requests) when they all fit, else
# left; one row either way, read back under its row lock (so replicas at once see each
# other's leases).
_BUCKET = f"""
bucket AS (
    INSERT INTO api_key_rate_limits AS b (key_id, tat, allowed)
    SELECT id, :now + :slice * :interval, true FROM caller
    WHERE NOT EXISTS (SELECT 1 FROM blocked)
    ON CONFLICT (key_id) DO UPDATE SET {_step("b", ":slice * :interval")}
    RETURNING b.tat, b.allowed
)"""
_COUNT_FAILURE = f"""
    INSERT INTO auth_failure_limits AS f (address, tat, allowed)
    VALUES (:address, :now + :interval, true)
    ON CONFLICT (address) DO UPDATE SET {_step("f")}
    RETURNING f.tat, f.allowed
    """


def _typed(sql: str) -> str:
    """Numbers as float8: PostgreSQL cannot infer ``$1 + $2`` on its own."""
    return re.sub(
        r":(now|interval|tolerance|fail_interval|fail_tolerance|slice)\b",
        r"CAST(:\1 AS float8)",
        sql,
    )


def _statement(keys: Gcra, failures: Gcra) -> str:
    ctes = [_CALLER, _BLOCKED if failures.on else _NEVER_BLOCKED]
    blocked = "(SELECT tat FROM blocked)"
    bucket = "NULL::float8, NULL::boolean"
    if keys.on:
        ctes.append(_BUCKET)
        bucket = "bucket.tat, bucket.allowed"
    join = " LEFT JOIN bucket ON true" if keys.on else ""
    return _typed(
        f"WITH {','.join(ctes)}\n"
        "SELECT caller.id, caller.partner_id, caller.scopes, caller.last_used_at,"
        f" caller.language, {bucket},"
        f" {blocked} AS blocked_tat\n"
        f"FROM (SELECT 1) AS one LEFT JOIN caller ON true{join}"
    )


# A replica's lease: a slice of the key's bucket taken in one step (the row moved on by
# ``slice`` requests at once) and spent here, so the shared row is written once per slice,
# not once per request. A lease is spent within LEASE_SECONDS of its grant or dropped.
LEASE_SECONDS = 1.0
LEASE_MAX = 50  # requests a lease holds at most
LEASE_SHARE = 10  # ... and at most a tenth of the burst
_PRUNE_AT = 4096  # leases kept before the stale ones are dropped


def lease_size(keys: Gcra) -> int:
    """Requests per lease: what the key may send in LEASE_SECONDS, at most a tenth of its
    burst and LEASE_MAX, at least 1 (1: every request moves the row, as without leases)."""
    if not keys.on:
        return 1
    per_lease = math.floor(keys.per_minute / 60 * LEASE_SECONDS)
    return max(1, min(LEASE_MAX, keys.burst // LEASE_SHARE, per_lease))


@dataclass
class Lease:
    """Requests this replica took from a key's bucket and has not spent yet."""

    tokens: int
    granted_at: float
    tat: float  # the row's time right after the grant

    def usable(self, now: float) -> bool:
        return self.tokens > 0 and self.granted_at <= now < self.granted_at + LEASE_SECONDS * 1e6


def _microseconds() -> int:
    """Now on the shared clock, in whole microseconds since the epoch."""
    return (clock.now() - _EPOCH) // timedelta(microseconds=1)


class RateLimits:
    """Checks a request's key and its limits (``admit``); one per app (per replica), holding
    the replica's leases by key hash."""

    def __init__(self, engine: AsyncEngine, keys: Gcra, failures: Gcra) -> None:
        self.engine = engine
        self.keys = keys
        self.failures = failures
        self.lease_size = lease_size(keys)
        # Built once: compiled once and prepared once per connection.
        self._lookup = text(_statement(keys, failures))
        self._lookup_only = text(_statement(Gcra(0, 1), failures))
        self._count_failure_statement = text(_typed(_COUNT_FAILURE))
        self._policy = keys.policy() if keys.on else None
        self._leases: dict[str, Lease] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _params(self, key_hash: str, address: str, now: float) -> dict[str, object]:
        params: dict[str, object] = {"key_hash": key_hash, "now": now}
        if self.keys.on:
            params |= {"interval": self.keys.interval, "tolerance": self.keys.tolerance}
        if self.failures.on:
            params |= {
                "address": address,
                "fail_interval": self.failures.interval,
                "fail_tolerance": self.failures.tolerance,
            }
        return params

    async def _check(
        self, request: Request, key_hash: str, now: float, slice_: int | None
    ) -> tuple[UsableKey, float | None, bool | None]:
        """The key's lookup (and, with ``slice_``, its bucket moved by that many requests):
        the key, the row's time and whether the slice fitted; 429/401 for the address and
        an unknown key."""
        address = request.client.host if request.client else ""
        params = self._params(key_hash, address, now)
        statement = self._lookup_only
        if slice_ is not None:
            params["slice"] = slice_
            statement = self._lookup
        async with autocommit(self.engine) as connection:
            row = (await connection.execute(statement, params)).one()
        key_id, partner_id, scopes, last_used_at, language, tat, allowed, blocked_tat = row
        if blocked_tat is not None:
            self._refuse_address(request, blocked_tat, now)
        if key_id is None:
            self._leases.pop(key_hash, None)
            await self._count_failure(request, address, now)
            raise Unauthorized(UNKNOWN_KEY)
        return UsableKey(key_id, partner_id, scopes, last_used_at, language), tat, allowed

    async def admit(self, request: Request, key_hash: str) -> UsableKey:
        """The key sent, if it is valid and within its limit; raises ``Unauthorized`` or
        ``TooManyRequests`` otherwise, and leaves the verdict for the answer's headers.
        A request this replica's lease covers only looks the key up (revoked keys stop at
        once); otherwise the same statement takes a new lease from the shared row."""
        now = _microseconds()
        if self._policy is None:
            key, _, _ = await self._check(request, key_hash, now, None)
            return key
        if self.lease_size == 1:  # every request on the row: nothing to hold here
            return await self._from_row(request, key_hash, now)
        lease = self._leases.get(key_hash)
        if lease is None or not lease.usable(now):
            renewed = await self._renewed(request, key_hash)
            if isinstance(renewed, UsableKey):
                return renewed
            lease, now = renewed
        key, _, _ = await self._check(request, key_hash, now, None)
        if lease.usable(now):  # not spent or expired meanwhile by other requests here
            return self._spend(request, key, lease, now)
        renewed = await self._renewed(request, key_hash)
        if isinstance(renewed, UsableKey):
            return renewed
        lease, now = renewed
        return self._spend(request, key, lease, now)

    async def _renewed(self, request: Request, key_hash: str) -> UsableKey | tuple[Lease, int]:
        """A usable lease for the key, or the request admitted on the shared row (which
        grants the next lease). One new lease per key at a time on this replica: the requests
        that find none wait for it rather than each taking a slice (which would strand a
        slice per waiting request here while other replicas are refused, and queue a bucket
        statement per request on the one row)."""
        lock = self._locks.setdefault(key_hash, asyncio.Lock())
        async with lock:
            now = _microseconds()  # after the wait: a lease granted meanwhile is usable
            lease = self._leases.get(key_hash)
            if lease is None or not lease.usable(now):
                return await self._from_row(request, key_hash, now)
        return lease, now

    async def _from_row(self, request: Request, key_hash: str, now: int) -> UsableKey:
        """The request on the shared row: a lease of ``lease_size`` (the request spends one
        of it) when that fits, else what is left, else 429."""
        assert self._policy is not None
        size = self.lease_size
        while True:
            key, tat, allowed = await self._check(request, key_hash, now, size)
            assert tat is not None
            if allowed:
                return self._spend(request, key, self._granted(key_hash, size, now, tat), now)
            # Refused: the row did not move, so it tells what is left; a smaller slice may fit.
            left = min(self.keys.remaining(tat, now), size - 1)
            if left < 1:
                break
            size = left
        retry = self.keys.retry_after(tat, now)
        request.state.rate_limit = Verdict(self._policy, 0, retry, retry)
        raise TooManyRequests(
            N_(
                "This API key sent more than {burst} requests at once or more than "
                "{per_minute} a minute; try again in {retry} s."
            ),
            params={"burst": self.keys.burst, "per_minute": self.keys.per_minute, "retry": retry},
            extra={"retry_after": retry},
        )

    def _granted(self, key_hash: str, size: int, now: int, tat: float) -> Lease:
        """The replica's lease with ``size`` more requests (added to a lease still usable:
        it keeps its grant time, so nothing is spent later than LEASE_SECONDS after it)."""
        lease = self._leases.get(key_hash)
        if lease is not None and lease.usable(now):
            lease.tokens += size
            lease.tat = max(lease.tat, tat)
            return lease
        if len(self._leases) >= _PRUNE_AT:
            self._leases = {k: v for k, v in self._leases.items() if v.usable(now)}
            self._locks = {k: v for k, v in self._locks.items() if v.locked()}
        lease = self._leases[key_hash] = Lease(size, now, tat)
        return lease

    def _spend(self, request: Request, key: UsableKey, lease: Lease, now: int) -> UsableKey:
        """One request off the lease; the headers count the lease's rest as remaining."""
        lease.tokens -= 1
        assert self._policy is not None
        remaining = self.keys.remaining(lease.tat, now) + lease.tokens
        request.state.rate_limit = Verdict(self._policy, remaining, self.keys.reset(lease.tat, now))
        return key

    async def _count_failure(self, request: Request, address: str, now: float) -> None:
        """One more failure from ``address`` (answered 401 while it fits); the address is
        refused from the next request on, before any key is looked at."""
        if not self.failures.on:
            return
        params = {
            "address": address,
            "now": now,
            "interval": self.failures.interval,
            "tolerance": self.failures.tolerance,
        }
        async with autocommit(self.engine) as connection:
            tat, allowed = (await connection.execute(self._count_failure_statement, params)).one()
        if not allowed:  # another replica counted the last one that fitted meanwhile
            self._refuse_address(request, tat, now)

    def _refuse_address(self, request: Request, tat: float, now: float) -> None:
        """The same answer whatever key was sent: unknown, revoked or valid alike."""
        retry = self.failures.retry_after(tat, now)
        request.state.rate_limit = Verdict(None, retry_after=retry)
        raise TooManyRequests(
            N_("Too many failed authentications from this address; try again in {retry} s."),
            params={"retry": retry},
            extra={"retry_after": retry},
        )


class RateLimitHeaders:
    """Puts the verdict the check left on the request onto its answer, whatever answers
    (the route, an error handler). Plain ASGI: no extra task per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                verdict = scope.get("state", {}).get(STATE_KEY)
                if isinstance(verdict, Verdict):
                    message["headers"] = [*message.get("headers", []), *verdict.headers()]
            await send(message)

        await self.app(scope, receive, send_with_headers)
