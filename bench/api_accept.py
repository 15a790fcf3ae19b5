"""API accept: POST /v1/invoices (validation, totals, duplicate check, idempotency key,
sync rows and the outbox event in one transaction, relay running in the same process)
against a bare FastAPI + asyncpg endpoint that inserts the same ``documents`` row.

Both are uvicorn processes on the same PostgreSQL database, driven one after the other by
the same closed-loop generator (same concurrency, duration and body) from this process.
Figures: accept throughput ratio (target >= 0.5), p50/p99 of both, RSS of the API."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import (
    Figure,
    Options,
    ProcessUsage,
    Sampler,
    connect_db,
    document_body,
    fresh_database,
    new_client,
    new_partner,
    rss_figures,
    stack,
    wheel_broker,
)
from bench.load import LoadResult, closed_loop
from invoicesync_devstack.broker import free_port

NAME = "api_accept"
BUDGET_SECONDS = 80
CONCURRENCY = 16


async def _add_integration(database_url: str, client_id: str) -> None:
    """An active Yuki integration, so every POST writes a sync row and an outbox event."""
    conn = await connect_db(database_url)
    try:
        partner_id = await conn.fetchval(
            "SELECT partner_id FROM clients WHERE id = $1", uuid.UUID(client_id)
        )
        await conn.execute(
            "INSERT INTO integrations (id, partner_id, client_id, system, status, settings,"
            " nightly_sync, nightly_hour, activated_at) VALUES ($1, $2, $3, 'yuki', 'active',"
            " '{}'::jsonb, false, 2, $4)",
            uuid.uuid4(),
            partner_id,
            uuid.UUID(client_id),
            datetime.now(UTC) - timedelta(minutes=1),
        )
    finally:
        await conn.close()


async def run(options: Options) -> list[Figure]:
    seconds = options.pick(15, 5)
    log_dir = options.log_dir / NAME
    async with fresh_database() as database_url, wheel_broker(log_dir) as bootstrap:
        with stack(database_url, bootstrap, log_dir, connectors=()) as running:
            partner = new_partner(running)
            client_id = new_client(partner)
            await _add_integration(database_url, client_id)
            conn = await connect_db(database_url)
            partner_id = str(
                await conn.fetchval(
                    "SELECT partner_id FROM clients WHERE id = $1", uuid.UUID(client_id)
                )
            )
            await conn.close()
            port = str(free_port())
            running.start(
                "bare",
                [sys.executable, "-m", "bench.bare_api"],
                f"http://127.0.0.1:{port}/healthz",
                env={
                    "BENCH_DATABASE_URL": database_url,
                    "BENCH_PORT": port,
                    "BENCH_PARTNER_ID": partner_id,
                    "BENCH_CLIENT_ID": client_id,
                },
            )
            run_id = uuid.uuid4().hex[:6]

            def bare_body(n: int) -> dict[str, Any]:
                return document_body(client_id, f"B{run_id}-{n}", customer=f"c{n % 50}")

            def api_body(n: int) -> dict[str, Any]:
                return document_body(client_id, f"A{run_id}-{n}", customer=f"c{n % 50}")

            bare = await closed_loop(
                f"http://127.0.0.1:{port}/bare/invoices",
                bare_body,
                headers={},
                concurrency=CONCURRENCY,
                seconds=seconds,
            )
            sampler = Sampler.of(running, include_self=True)
            with sampler.loaded() as usage:
                api = await closed_loop(
                    f"{running.api_url}/v1/invoices",
                    api_body,
                    headers={"Authorization": str(partner.headers["Authorization"])},
                    concurrency=CONCURRENCY,
                    seconds=seconds,
                    per_request=lambda n: {"Idempotency-Key": f"bench-{run_id}-{n}"},
                )
            partner.close()
    return _figures(api, bare, _usage_note(usage), sampler)


def _usage_note(usage: ProcessUsage) -> str:
    return (
        f"cores during the API run: api {usage.cores('api'):.2f}, "
        f"load generator {usage.cores('load generator'):.2f}"
    )


def _figures(api: LoadResult, bare: LoadResult, note: str, sampler: Sampler) -> list[Figure]:
    ratio = api.throughput / bare.throughput if bare.throughput else 0.0
    return [
        Figure(
            NAME,
            f"accept throughput, {CONCURRENCY} concurrent",
            round(api.throughput, 1),
            "req/s",
            reference=f"bare {bare.throughput:.1f} req/s",
            ratio=round(ratio, 2),
            target=">= 0.5",
            passed=ratio >= 0.5,
            note=f"errors api {api.errors} bare {bare.errors}; {note}",
        ),
        Figure(
            NAME,
            "accept latency p50",
            round(api.p(50), 1),
            "ms",
            reference=f"bare {bare.p(50):.1f} ms",
            ratio=round(api.p(50) / bare.p(50), 2) if bare.latencies else None,
        ),
        Figure(
            NAME,
            "accept latency p99",
            round(api.p(99), 1),
            "ms",
            reference=f"bare {bare.p(99):.1f} ms",
            ratio=round(api.p(99) / bare.p(99), 2) if bare.latencies else None,
        ),
        *rss_figures(NAME, sampler.usage, ("api",)),
    ]
