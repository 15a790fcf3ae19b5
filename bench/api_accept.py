"""API accept: POST /v1/invoices (validation, totals, duplicate check, idempotency key,
sync rows and the outbox event in one transaction, relay running in the same process)
against a bare FastAPI + asyncpg endpoint that inserts the same ``documents`` row.

Both are uvicorn processes on the same PostgreSQL database, driven one after the other by
the same closed-loop generator (same concurrency, duration and body) from this process.

The API runs with its rate limits off (no bucket in the key's lookup) and, restarted, with
them on at a size the load stays under, so every request pays for its bucket and none is
refused: the cost of the limiter, not its effect. (At the defaults a key gets 10 requests a
second after its burst, which says nothing about cost.)

The machine drifts during a run (other benchmarks' leftovers, PostgreSQL's checkpoints, a
shared host): one load of each, one after the other, compared the drift as much as the code
(on / off read 0.64 in a full run and 0.91 alone). So the loads are interleaved in two
rounds, bare, off, on, then bare, on, off (ORDERS; the API restarted when its limits
change), and each figure is the best of its loads: drift only ever slows a load down, so
the best is the least disturbed. Every load's throughput is printed in the notes.

Figures: accept throughput ratio with limits on (target >= 0.5) and off, against the bare
endpoint; on / off (target >= 0.9: within noise); p50/p99; RSS of the API."""

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
    progress,
    rss_figures,
    stack,
    stop,
    wheel_broker,
)
from bench.common import _api_workers_running as api_workers_running
from bench.load import LoadResult, closed_loop
from invoicesync_devstack.broker import free_port
from tests.support.processes import Stack

NAME = "api_accept"
BUDGET_SECONDS = 150  # two rounds of three loads (7 s each) and two restarts of the API
# Off, on, then on, off (ABBA: a steady drift weighs on both alike), each round after a load
# of the bare endpoint; the API is restarted only when its limits change (twice).
ORDERS = (("off", "on"), ("on", "off"))
CONCURRENCY = 16
ON_OFF_TARGET = 0.9
# Limits off: the key's lookup alone. On: enforced, far above what the load sends.
LIMITS_OFF = {"INVOICESYNC_RATE_LIMIT_PER_MINUTE": "0", "INVOICESYNC_AUTH_FAILURES_PER_MINUTE": "0"}
LIMITS_ON = {
    "INVOICESYNC_RATE_LIMIT_PER_MINUTE": "10000000",
    "INVOICESYNC_RATE_LIMIT_BURST": "1000000",
    "INVOICESYNC_AUTH_FAILURES_PER_MINUTE": "10000000",
    "INVOICESYNC_AUTH_FAILURES_BURST": "1000000",
}
LIMITS = {"off": LIMITS_OFF, "on": LIMITS_ON}


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
    seconds = options.pick(7, 4)
    log_dir = options.log_dir / NAME
    async with fresh_database() as database_url, wheel_broker(log_dir) as bootstrap:
        with stack(database_url, bootstrap, log_dir, connectors=(), env=LIMITS_OFF) as running:
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

            async def drive_bare(label: str) -> LoadResult:
                def bare_body(n: int) -> dict[str, Any]:
                    return document_body(client_id, f"B{run_id}{label}-{n}", customer=f"c{n % 50}")

                return await closed_loop(
                    f"http://127.0.0.1:{port}/bare/invoices",
                    bare_body,
                    headers={},
                    concurrency=CONCURRENCY,
                    seconds=seconds,
                )

            async def drive_api(label: str) -> LoadResult:
                def api_body(n: int) -> dict[str, Any]:
                    number = f"A{run_id}{label}-{n}"
                    return document_body(client_id, number, customer=f"c{n % 50}")

                return await closed_loop(
                    f"{running.api_url}/v1/invoices",
                    api_body,
                    headers={"Authorization": str(partner.headers["Authorization"])},
                    concurrency=CONCURRENCY,
                    seconds=seconds,
                    per_request=lambda n: {"Idempotency-Key": f"bench-{run_id}-{label}-{n}"},
                )

            loads: dict[str, list[LoadResult]] = {"bare": [], "off": [], "on": []}
            running_with = "off"  # the stack started with the limits off
            for round_, order in enumerate(ORDERS):
                progress(NAME, f"round {round_ + 1} of {len(ORDERS)}: bare, {', '.join(order)}")
                loads["bare"].append(await drive_bare(f"r{round_}"))
                for limits in order:
                    if limits != running_with:
                        progress(NAME, f"restarting the API with its limits {limits}")
                        _restart_api(running, LIMITS[limits])
                        running_with = limits
                    if limits == "off":
                        loads["off"].append(await drive_api(f"off{round_}"))
                        continue
                    sampler = Sampler.of(running, include_self=True)
                    with sampler.loaded() as usage:
                        loads["on"].append(await drive_api(f"on{round_}"))
            partner.close()
            progress(NAME, "loads done; stopping")
    return _figures(loads, _usage_note(usage), sampler)


def _best(results: list[LoadResult]) -> LoadResult:
    return max(results, key=lambda result: result.throughput)


def _each(results: list[LoadResult]) -> str:
    return " / ".join(f"{result.throughput:.1f}" for result in results)


def _restart_api(running: Stack, env: dict[str, str]) -> None:
    """The API again on its port with ``env`` added, its outbox relay running."""
    stop(running, "api")
    running.start("api", "invoicesync-api", f"{running.api_url}/healthz", env=env)
    api_workers_running(running, 90)


def _usage_note(usage: ProcessUsage) -> str:
    return (
        f"cores during the API run: api {usage.cores('api'):.2f}, "
        f"load generator {usage.cores('load generator'):.2f}"
    )


def _figures(loads: dict[str, list[LoadResult]], note: str, sampler: Sampler) -> list[Figure]:
    """The best load of each kind: ``on`` limits on, ``off`` limits off, ``bare`` the bare
    endpoint (the usage note and RSS are of the last load with the limits on)."""
    api, off, bare = _best(loads["on"]), _best(loads["off"]), _best(loads["bare"])
    ratio = api.throughput / bare.throughput if bare.throughput else 0.0
    off_ratio = off.throughput / bare.throughput if bare.throughput else 0.0
    on_off = api.throughput / off.throughput if off.throughput else 0.0
    each = (
        f"best of {len(ORDERS)} interleaved rounds; each load: on {_each(loads['on'])}, "
        f"off {_each(loads['off'])}, bare {_each(loads['bare'])} req/s"
    )
    return [
        Figure(
            NAME,
            f"accept throughput, {CONCURRENCY} concurrent, limits on",
            round(api.throughput, 1),
            "req/s",
            reference=f"bare {bare.throughput:.1f} req/s",
            ratio=round(ratio, 2),
            target=">= 0.5",
            passed=ratio >= 0.5,
            note=(
                f"errors api {api.errors} bare {bare.errors}; statuses {api.statuses}; "
                f"{note}; {each}"
            ),
        ),
        Figure(
            NAME,
            f"accept throughput, {CONCURRENCY} concurrent, limits off",
            round(off.throughput, 1),
            "req/s",
            reference=f"bare {bare.throughput:.1f} req/s",
            ratio=round(off_ratio, 2),
            note=f"errors {off.errors}",
        ),
        Figure(
            NAME,
            "accept throughput, limits on / off",
            round(api.throughput, 1),
            "req/s",
            reference=f"off {off.throughput:.1f} req/s",
            ratio=round(on_off, 2),
            target=f">= {ON_OFF_TARGET}",
            passed=on_off >= ON_OFF_TARGET,
            note=f"ratio to bare: on {ratio:.2f}, off {off_ratio:.2f}",
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
