"""A closed-loop load generator: N workers, each one POST at a time, for a fixed time.

Run in the benchmark's own process against servers in other processes; both sides of a
comparison get the same generator, concurrency, duration and body shape."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.common import percentile


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        """Latency percentile in milliseconds."""
        return percentile(self.latencies, q) * 1000


async def closed_loop(
    url: str,
    body: Callable[[int], dict[str, Any]],
    *,
    headers: dict[str, str],
    concurrency: int,
    seconds: float,
    warmup: float = 1.0,
    per_request: Callable[[int], dict[str, str]] | None = None,
    client: httpx.AsyncClient | None = None,
) -> LoadResult:
    """POST ``body(n)`` (n unique per request) from ``concurrency`` workers; requests that
    start during the warm-up are sent but not counted. ``per_request(n)`` adds headers
    (an Idempotency-Key of its own, say). ``client``: one of ``load_client``'s (with its own
    ``headers``), kept open across loads so its connections stay up between short slices;
    else a new one for this load."""
    result = LoadResult()
    counter = itertools.count()
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(load_client(headers, concurrency))
        http = client
        started = time.monotonic()
        measure_from = started + warmup
        stop_at = measure_from + seconds

        async def worker() -> None:
            while (sent := time.monotonic()) < stop_at:
                n = next(counter)
                content = json.dumps(body(n)).encode()
                extra = per_request(n) if per_request else None
                try:
                    response = await http.post(url, content=content, headers=extra)
                    status = response.status_code
                except httpx.HTTPError:
                    status = 0
                done = time.monotonic()
                if sent < measure_from:
                    continue
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status == 201:
                    result.requests += 1
                    result.latencies.append(done - sent)
                else:
                    result.errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.seconds = time.monotonic() - measure_from
    return result


def load_client(
    headers: dict[str, str], concurrency: int, *, timeout: float = 60
) -> httpx.AsyncClient:
    """A client for ``closed_loop``: ``concurrency`` connections, kept alive, though not as
    long as uvicorn's 5 s (a connection the server closed would fail a request); a request
    still unanswered after ``timeout`` seconds counts as an error."""
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=3
    )
    return httpx.AsyncClient(
        headers={**headers, "Content-Type": "application/json"}, limits=limits, timeout=timeout
    )
