"""End to end on the sandbox with no rate limit: POST /v1/invoices → booked in Exact and
recorded by the API, through the real processes (API, outbox relay, broker, Exact
connector, result consumer). Documents are sent open-loop at a steady rate; latency is
read from PostgreSQL (the document's created_at to its sync row's last update, both
stamped by the database), so polling adds nothing.
Figures: latency p50/p99 at that rate, RSS of each service idle and loaded."""

from __future__ import annotations

import asyncio
import time

import httpx

from bench.common import (
    Figure,
    Options,
    Sampler,
    connect_db,
    count_sync_states,
    document_body,
    exact_client,
    fresh_database,
    new_partner,
    percentile,
    rss_figures,
    stack,
    wait_until,
    wheel_broker,
)
from tests.support.processes import Stack

NAME = "end_to_end"
BUDGET_SECONDS = 75
RATE = 10.0  # documents per second
CLIENTS = 4
NO_LIMIT = {"exact_minutely_limit": "1000000", "exact_daily_limit": "100000000"}


async def run(options: Options) -> list[Figure]:
    log_dir = options.log_dir / NAME
    async with fresh_database() as database_url, wheel_broker(log_dir) as bootstrap:
        with stack(
            database_url, bootstrap, log_dir, connectors=("exact",), sandbox=NO_LIMIT
        ) as running:
            partner = new_partner(running)
            clients = [exact_client(running, partner, f"E2E {n} BV") for n in range(CLIENTS)]
            figures = await measure(options, running, database_url, partner, clients)
            partner.close()
    return figures


async def measure(
    options: Options,
    running: Stack,
    database_url: str,
    partner: httpx.Client,
    clients: list[str],
) -> list[Figure]:
    """Warm up each client, then send documents open-loop at ``RATE`` and read each one's
    latency from PostgreSQL. Also used by scale_out, on the stack it shares."""
    seconds = options.pick(20, 8)
    key = str(partner.headers["Authorization"])
    total = int(RATE * seconds)
    before = await count_sync_states(database_url, ("booked", "failed"))
    async with httpx.AsyncClient(
        base_url=running.api_url, headers={"Authorization": key}, timeout=60
    ) as http:
        # Warm-up: one document per client (customer links, master data, pools).
        for n, client_id in enumerate(clients):
            body = document_body(client_id, f"W-{n}", customer="k0")
            (await http.post("/v1/invoices", json=body)).raise_for_status()
        await wait_until(
            lambda: _settled(database_url, before + len(clients)), within=30, what="warm-up"
        )
        sampler = Sampler.of(running)
        with sampler.loaded():
            started = time.monotonic()
            tasks = []
            for n in range(total):
                await asyncio.sleep(max(0.0, started + n / RATE - time.monotonic()))
                body = document_body(clients[n % len(clients)], f"E-{n}", customer=f"k{n % 3}")
                tasks.append(asyncio.create_task(http.post("/v1/invoices", json=body)))
            for response in await asyncio.gather(*tasks):
                response.raise_for_status()
            await wait_until(
                lambda: _settled(database_url, before + total + len(clients)),
                within=30,
                what="all booked",
            )
    latencies = await _latencies(database_url)
    return [
        Figure(
            NAME,
            f"POST → booked p50 at {RATE:g} doc/s",
            round(percentile(latencies, 50) * 1000),
            "ms",
            reference=f"{len(latencies)} documents booked",
        ),
        Figure(NAME, "POST → booked p99", round(percentile(latencies, 99) * 1000), "ms"),
        *rss_figures(NAME, sampler.usage, ("api", "exact", "sandbox")),
    ]


async def _settled(database_url: str, n: int) -> bool:
    return await count_sync_states(database_url, ("booked", "failed")) >= n


async def _latencies(database_url: str) -> list[float]:
    conn = await connect_db(database_url)
    try:
        rows = await conn.fetch(
            "SELECT extract(epoch FROM s.updated_at - d.created_at) AS seconds"
            " FROM document_syncs s JOIN documents d ON d.id = s.document_id"
            " WHERE s.status = 'booked' AND d.number LIKE 'E-%'"
        )
    finally:
        await conn.close()
    return [float(r["seconds"]) for r in rows]
