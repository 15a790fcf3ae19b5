"""Lexware budget use: a backlog for one organisation against the sandbox's 2 requests
per second (token bucket per client), counted on the sandbox side over a fixed span.

Real time: the connector paces on the real clock (PostgreSQL slots), so a scaled sandbox
clock would only hand out more tokens. Customers are known (a warm-up document each).
Figures: share of 2 req/s used (>= 95 %), 429s (0), calls per document.
"""

from __future__ import annotations

import asyncio

import httpx

from bench.common import (
    Figure,
    Options,
    Sampler,
    api_key,
    bench_stack,
    clear_sandbox_calls,
    count_sync_states,
    german_document,
    lexware_client,
    new_partner,
    post_documents,
    rss_figures,
    sandbox_calls,
    wait_until,
)

NAME = "lexware_budget"
BUDGET_SECONDS = 80
RATE = 2.0
CUSTOMERS = 3
API = "/lexware/v1/"


async def run(options: Options) -> list[Figure]:
    seconds = options.pick(30, 15)
    async with bench_stack(
        NAME, options, connectors=("lexware",), sandbox={"lexware_requests_per_second": str(RATE)}
    ) as (database_url, running):
        partner = new_partner(running)
        client_id = lexware_client(running, partner, "Lexware Bench GmbH")
        key = api_key(partner)
        warmup = [german_document(client_id, f"W-{n}", f"k{n}") for n in range(CUSTOMERS)]
        await post_documents(running.api_url, key, warmup)
        await wait_until(lambda: _settled(database_url, CUSTOMERS), within=60, what="warm-up sent")
        async with httpx.AsyncClient(timeout=30) as http:
            await clear_sandbox_calls(http, running)
            backlog = int(RATE * seconds * 1.3) + 10
            bodies = [
                german_document(client_id, f"B-{n}", f"k{n % CUSTOMERS}") for n in range(backlog)
            ]
            sampler = Sampler.of(running)
            with sampler.loaded():
                await post_documents(running.api_url, key, bodies)
                await wait_until(
                    lambda: _first_call(http, running),
                    within=30,
                    what="first Lexware call",
                )
                await asyncio.sleep(seconds + 1)
            calls = await sandbox_calls(http, running, API)
        partner.close()
    start = min(c.at for c in calls)
    counted = [c for c in calls if c.at < start + seconds]
    documents = sum(1 for c in counted if c.method == "POST" and "/contacts" not in c.path)
    limited = sum(1 for c in calls if c.status == 429)
    share = len(counted) / (RATE * seconds)
    per_doc = len(counted) / documents if documents else float("inf")
    return [
        Figure(
            NAME,
            "share of 2 req/s used",
            round(100 * share, 1),
            "%",
            reference=f"{len(counted)} calls in {seconds:.0f} s",
            ratio=round(share, 3),
            target=">= 95 %",
            passed=share >= 0.95,
        ),
        Figure(NAME, "429s", limited, target="0", passed=limited == 0),
        Figure(
            NAME,
            "calls per document (known customers)",
            round(per_doc, 3),
            reference=f"{len(counted)} calls / {documents} vouchers",
            note="over the span the token bucket's burst of 2 can add one call",
        ),
        *rss_figures(NAME, sampler.usage, ("lexware",)),
    ]


async def _settled(database_url: str, n: int) -> bool:
    return await count_sync_states(database_url, ("sent", "booked")) >= n


async def _first_call(http: httpx.AsyncClient, running: object) -> bool:
    return bool(await sandbox_calls(http, running, API))  # type: ignore[arg-type]
