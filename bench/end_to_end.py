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
    ProcessUsage,
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
        stats_before = await database_stats(database_url)
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
    stats_after = await database_stats(database_url)
    latencies = await _latencies(database_url)
    hops = await _hops(database_url)
    return [
        Figure(
            NAME,
            f"POST → booked p50 at {RATE:g} doc/s",
            round(percentile(latencies, 50) * 1000),
            "ms",
            reference=f"{len(latencies)} documents booked",
        ),
        Figure(
            NAME,
            "POST → booked p99",
            round(percentile(latencies, 99) * 1000),
            "ms",
            target="<= 250",
            passed=percentile(latencies, 99) <= 0.250,
        ),
        *(
            Figure(
                NAME,
                f"hop: {hop}, p50",
                round(percentile(values, 50) * 1000, 1),
                "ms",
                reference=f"p99 {percentile(values, 99) * 1000:.1f} ms",
            )
            for hop, values in hops.items()
        ),
        *rss_figures(NAME, sampler.usage, ("api", "exact", "sandbox")),
        *cost_figures(sampler.usage, stats_before, stats_after, total),
    ]


# What one document costs, for the capacity model (README, "Capacity"): CPU of each
# process, and PostgreSQL transactions, rows written and bytes grown, under the load.
DatabaseStats = dict[str, int]


async def database_stats(database_url: str) -> DatabaseStats:
    """This database's counters once they stand still (PostgreSQL flushes each backend's
    counts within about a second)."""
    query = (
        "SELECT xact_commit + xact_rollback AS transactions,"
        " tup_inserted + tup_updated + tup_deleted AS rows_written,"
        " pg_database_size(datname) AS bytes"
        " FROM pg_stat_database WHERE datname = current_database()"
    )
    conn = await connect_db(database_url)
    try:
        previous: DatabaseStats | None = None
        for _ in range(20):
            row = await conn.fetchrow(query)
            assert row is not None
            current = {k: int(v) for k, v in row.items()}
            if previous is not None and current["rows_written"] == previous["rows_written"]:
                return current
            previous = current
            await asyncio.sleep(0.5)
        return current
    finally:
        await conn.close()


def cost_figures(
    usage: ProcessUsage, before: DatabaseStats, after: DatabaseStats, documents: int
) -> list[Figure]:
    """Per document: CPU milliseconds of each process, PostgreSQL transactions, rows
    written and bytes grown, over the load's window (idle work and the benchmark's own
    polling, a few reads a second, included)."""
    figures = [
        Figure(
            NAME,
            f"CPU per document, {name}",
            round(seconds * 1000 / documents, 1),
            "ms",
            reference=f"{seconds:.1f} s over {documents} documents",
        )
        for name, seconds in sorted(usage.cpu_seconds.items())
    ]
    for key, unit in (("transactions", ""), ("rows_written", "rows"), ("bytes", "B")):
        delta = after[key] - before[key]
        figures.append(
            Figure(
                NAME,
                f"PostgreSQL {key.replace('_', ' ')} per document",
                round(delta / documents, 1),
                unit,
                reference=f"{delta} over {documents} documents",
            )
        )
    return figures


async def _settled(database_url: str, n: int) -> bool:
    return await count_sync_states(database_url, ("booked", "failed")) >= n


# Where the time goes, from the timestamps each step leaves in PostgreSQL (all on the
# database's clock): the outbox row's publication, the connector's ledger entry (taken,
# pushed, its result published) and the API's sync row.
HOPS = """
SELECT extract(epoch FROM o.published_at - d.created_at) AS "accepted → relayed",
       extract(epoch FROM l.created_at - o.published_at) AS "relayed → connector took it",
       extract(epoch FROM l.result_published_at - l.created_at)
           AS "taken → booked and result relayed",
       extract(epoch FROM s.updated_at - l.result_published_at) AS "result → API recorded"
FROM documents d
JOIN outbox_messages o ON o.topic = 'invoicesync.documents' AND o.envelope->>'subject' = d.id::text
JOIN connector_ledger l ON l.document_id = d.id
JOIN document_syncs s ON s.document_id = d.id AND s.integration_id = l.integration_id
WHERE s.status = 'booked' AND d.number LIKE 'E-%'
"""


async def _hops(database_url: str) -> dict[str, list[float]]:
    conn = await connect_db(database_url)
    try:
        rows = await conn.fetch(HOPS)
    finally:
        await conn.close()
    names = list(rows[0].keys()) if rows else []
    return {n: [float(r[n]) for r in rows if r[n] is not None] for n in names}


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
