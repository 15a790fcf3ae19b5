"""Exact budget use: a backlog for one division against the sandbox enforcing Exact's
real limits (60 calls per minute, 5,000 per day), counted on the sandbox side.

The sandbox's time scale cannot shorten this run: Exact reports when its minute window
resets as an absolute epoch time (X-RateLimit-Minutely-Reset) and the connector sleeps
until then on the real clock, so a scaled sandbox clock makes it sleep a scaled minute
of wall time. The run therefore uses one real minute window.

Customers are known (linked by a warm-up document each), as in steady state.
Figures: calls per document (<= 1.05), share of the minute budget used (>= 95 %), 429s (0).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    Call,
    Figure,
    Options,
    Sampler,
    clear_sandbox_calls,
    count_sync_states,
    document_body,
    exact_client,
    fresh_database,
    new_partner,
    post_documents,
    rss_figures,
    sandbox_calls,
    stack,
    wait_until,
    wheel_broker,
)
from tests.support.processes import Stack

NAME = "exact_budget"
BUDGET_SECONDS = 120
MINUTELY = 60
CUSTOMERS = 3
API = "/exact/api/v1/"


def windows(calls: list[Call], length: float = 60.0) -> list[list[Call]]:
    """Group calls into the sandbox's windows: one opens with the first call after the
    previous one ended (as the sandbox's rate limiter does)."""
    groups: list[list[Call]] = []
    end = float("-inf")
    for call in sorted(calls, key=lambda c: c.at):
        if call.at >= end:
            groups.append([])
            end = call.at + length
        groups[-1].append(call)
    return groups


@contextlib.asynccontextmanager
async def exact_at_real_limits(log_dir: Path) -> AsyncIterator[tuple[str, Stack]]:
    """A fresh database and broker, the API and the Exact connector, and the sandbox at
    Exact's real limits; yields the database URL and the running stack."""
    sandbox = {"exact_minutely_limit": str(MINUTELY), "exact_daily_limit": "5000"}
    async with fresh_database() as database_url, wheel_broker(log_dir) as bootstrap:
        with stack(
            database_url, bootstrap, log_dir, connectors=("exact",), sandbox=sandbox
        ) as running:
            yield database_url, running


async def run(options: Options) -> list[Figure]:
    minutes = 1  # a real minute; more windows measure the same
    async with exact_at_real_limits(options.log_dir / NAME) as (database_url, running):
        partner = new_partner(running)
        client_id = exact_client(running, partner, "Exact Bench BV")
        key = str(partner.headers["Authorization"])
        warmup = [document_body(client_id, f"W-{n}", customer=f"k{n}") for n in range(CUSTOMERS)]
        await warm_up(running, database_url, key, warmup)
        async with httpx.AsyncClient(timeout=30) as http:
            await fresh_minute(http, running)
            backlog = MINUTELY * (minutes + 1)
            bodies = [
                document_body(client_id, f"B-{n}", customer=f"k{n % CUSTOMERS}")
                for n in range(backlog)
            ]
            sampler = Sampler.of(running)
            with sampler.loaded():
                await post_documents(running.api_url, key, bodies)
                # Until `minutes` whole windows have closed (the backlog outlasts them).
                deadline = time.monotonic() + 60 * (minutes + 1) + 30
                while time.monotonic() < deadline:
                    calls = await sandbox_calls(http, running, API)
                    groups = windows(calls)
                    if len(groups) > minutes or (
                        groups and time.time() > groups[0][0].at + 60 * minutes + 2
                    ):
                        break
                    await asyncio.sleep(1)
            calls = await sandbox_calls(http, running, API)
        partner.close()
    return _figures(calls, minutes, sampler)


async def warm_up(
    running: Stack, database_url: str, key: str, bodies: list[dict[str, Any]]
) -> None:
    """Book ``bodies`` (one per customer), so the customers are known afterwards."""
    await post_documents(running.api_url, key, bodies)

    async def booked() -> bool:
        return await count_sync_states(database_url, ("booked",)) >= len(bodies)

    await wait_until(booked, within=60, what="warm-up booked")


async def fresh_minute(http: httpx.AsyncClient, running: Stack) -> None:
    """Every division's counters back to zero and the sandbox's call log empty."""
    await http.put(f"{running.sandbox_url}/_sandbox/exact/limits", json={"reset_counters": True})
    await clear_sandbox_calls(http, running)


def _figures(calls: list[Call], minutes: int, sampler: Sampler) -> list[Figure]:
    groups = windows(calls)
    whole = groups[:minutes]
    counted = [c for g in whole for c in g]
    documents = sum(
        1 for c in counted if c.method == "POST" and "SalesEntries" in c.path and c.status < 300
    )
    limited = sum(1 for c in calls if c.status == 429)
    span = (whole[-1][0].at + 60 - whole[0][0].at) if whole else 0.0
    share = len(counted) / (MINUTELY * span / 60) if span else 0.0
    per_doc = len(counted) / documents if documents else float("inf")
    return [
        Figure(
            NAME,
            "calls per document (known customers)",
            round(per_doc, 3),
            reference=f"{len(counted)} calls / {documents} documents",
            target="<= 1.05",
            passed=per_doc <= 1.05,
        ),
        Figure(
            NAME,
            f"share of the minute budget used ({len(whole)} windows)",
            round(100 * share, 1),
            "%",
            reference=f"{MINUTELY}/min, {span:.0f} s",
            ratio=round(share, 3),
            target=">= 95 %",
            passed=share >= 0.95,
            note=", ".join(f"window {i + 1}: {len(g)} calls" for i, g in enumerate(whole)),
        ),
        Figure(NAME, "429s", limited, target="0", passed=limited == 0),
        *rss_figures(NAME, sampler.usage, ("exact",)),
    ]
