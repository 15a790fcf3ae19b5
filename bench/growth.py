"""Growth: what the API's lists and counts and the sweeper's pass cost as a partner's
history grows from 10 k to 1 M documents (quick: 100 k), measured side by side in one run.

The history is generated in SQL, as a partner with 50 clients and two integrations each
leaves it after years: every document booked in both but about 5 % failed in one, a
client (the first) with nothing unsynced, and the 40 newest documents pending in both
(in flight: the backlog of the moment, which does not grow with the history). Growing
adds older documents, so the newest pages show the same rows at both sizes.
Figures: p50 and p99 of each query at both sizes, the ratio of the p99s (target <= 2)
and the p99 at the larger size (target <= 50 ms)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx
from pydantic import SecretStr

from bench import history
from bench.common import (
    Figure,
    Options,
    connect_db,
    fresh_database,
    new_partner,
    percentile,
    progress,
    stack,
    wheel_broker,
)
from invoicesync_api.pagination import encode_cursor
from invoicesync_api.workers.sweeper import PendingSweeper
from invoicesync_shared.db.engine import create_engine, create_sessionmaker

NAME = "growth"
BUDGET_SECONDS = 720
CLIENTS = 50
PENDING = 40  # the newest documents, in flight in both integrations
SAMPLES = 200
PAGE = 50  # rows per page asked for
P99_RATIO = 2.0
P99_MS = 50.0
BASE = datetime(2026, 12, 1, tzinfo=UTC)

_DOCUMENTS = history.documents(
    client="c.id",
    number="'G-' || g",
    status="'booked'",
    booked_at=history.booked_at(),
    has_booking_number="g > $5",
    rows="FROM generate_series($3::int, $4::int) g\nJOIN bench_clients c ON c.idx = g % 50",
)
# Booked in both but ~5 % failed in one (never in both), the first client all booked,
# the newest pending in both.
_SYNCS = history.syncs(
    integration="i.id",
    error_code="'unknown_vat_code'",
    error_message="'The VAT code 21 is not known in this division.'",
    answered="s.status <> 'pending'",
    requested_now="s.status = 'pending'",
    rows="""FROM generate_series($2::int, $3::int) g
JOIN bench_clients c ON c.idx = g % 50
JOIN bench_integrations i ON i.client_id = c.id
CROSS JOIN LATERAL (SELECT CASE
    WHEN g <= $4 THEN 'pending'
    WHEN c.idx = 0 THEN 'booked'
    WHEN (g + i.idx * 7) % 20 = 0 THEN 'failed'
    ELSE 'booked' END AS status) s""",
)


async def _setup(database_url: str, partner_id: uuid.UUID) -> list[uuid.UUID]:
    """50 clients of the partner with an Exact and a Yuki integration each; returns the
    integrations' ids."""
    conn = await connect_db(database_url)
    try:
        await conn.execute(
            "INSERT INTO clients (id, partner_id, name, country, timezone, created_at)"
            " SELECT md5('client' || n)::uuid, $1, 'Client ' || n, 'NL', 'Europe/Amsterdam',"
            " now() FROM generate_series(0, $2 - 1) n",
            partner_id,
            CLIENTS,
        )
        await conn.execute(
            "INSERT INTO integrations (id, partner_id, client_id, system, status, settings,"
            " nightly_sync, nightly_hour, activated_at, created_at)"
            " SELECT md5(c.id::text || s.system)::uuid, $1, c.id, s.system, 'active',"
            " '{}'::jsonb, false, 2, now() - interval '5 years', now()"
            " FROM clients c CROSS JOIN (VALUES ('exact'), ('yuki')) s(system)"
            " WHERE c.partner_id = $1",
            partner_id,
        )
        rows = await conn.fetch(
            "SELECT id FROM integrations WHERE partner_id = $1 ORDER BY id", partner_id
        )
        return [r["id"] for r in rows]
    finally:
        await conn.close()


async def _grow(database_url: str, partner_id: uuid.UUID, first: int, last: int) -> None:
    """Documents ``first``..``last`` (older as ``g`` grows) with their sync states."""
    conn = await connect_db(database_url)
    try:
        await conn.execute(
            "CREATE TEMP TABLE bench_clients AS SELECT id, (row_number() OVER"
            " (ORDER BY name) - 1)::int AS idx FROM clients WHERE partner_id = $1",
            partner_id,
        )
        await conn.execute(
            "CREATE TEMP TABLE bench_integrations AS SELECT id, client_id,"
            " (CASE system WHEN 'exact' THEN 0 ELSE 1 END) AS idx FROM integrations"
            " WHERE partner_id = $1",
            partner_id,
        )
        step = 100_000
        for start in range(first, last + 1, step):
            end = min(start + step - 1, last)
            await conn.execute(_DOCUMENTS, partner_id, BASE, start, end, PENDING)
            await conn.execute(_SYNCS, BASE, start, end, PENDING)
        await conn.execute("VACUUM ANALYZE documents")
        await conn.execute("VACUUM ANALYZE document_syncs")
        # The generation wrote gigabytes at once; without this the checkpointer spreads their
        # flush over the next minutes, the very minutes measured (a history grows over years).
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


Probe = Callable[[], Awaitable[None]]


async def _probes(
    http: httpx.AsyncClient, database_url: str, integration_id: uuid.UUID
) -> dict[str, Probe]:
    conn = await connect_db(database_url)
    try:
        clients = await conn.fetch("SELECT id FROM clients ORDER BY name")
        clean, busy = str(clients[0]["id"]), clients[1]["id"]
        # A cursor nine tenths down the client's history, as deep as it is at this size,
        # yet with a full page after it at both sizes: the page must answer as many rows
        # at 10 k as at 1 M (nine tenths of 200 left 19, a third of the 1 M page).
        depth = await conn.fetchval("SELECT count(*) FROM documents WHERE client_id = $1", busy)
        row = await conn.fetchrow(
            "SELECT created_at, id FROM documents WHERE client_id = $1"
            " ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1",
            busy,
            min(int(depth * 0.9), depth - PAGE - 1),
        )
    finally:
        await conn.close()
    deep = encode_cursor(SimpleNamespace(created_at=row["created_at"], id=row["id"]))

    def get(path: str, **params: str) -> Probe:
        async def probe() -> None:
            response = await http.get(path, params={"limit": str(PAGE), **params})
            response.raise_for_status()

        return probe

    return {
        "client list": get("/v1/invoices", client_id=str(busy)),
        "client not synced (none)": get("/v1/invoices", client_id=clean, booking_number="null"),
        "partner not synced": get("/v1/invoices", booking_number="null"),
        "sync_status=failed": get("/v1/invoices", sync_status="failed"),
        "client failed": get("/v1/invoices", client_id=str(busy), sync_status="failed"),
        "deep cursor page": get("/v1/invoices", client_id=str(busy), cursor=deep),
        "integration counts": get(f"/v1/integrations/{integration_id}"),
    }


async def _measure(probes: dict[str, Probe], sweeper: PendingSweeper) -> dict[str, list[float]]:
    async def sweep() -> None:
        await sweeper.sweep_once()

    timings: dict[str, list[float]] = {}
    for name, probe in {**probes, "sweeper pass": sweep}.items():
        for _ in range(5):  # warm
            await probe()
        samples = []
        for _ in range(SAMPLES):
            started = time.perf_counter()
            await probe()
            samples.append((time.perf_counter() - started) * 1000)
        timings[name] = samples
    return timings


async def run(options: Options) -> list[Figure]:
    small, large = 10_000, int(options.pick(1_000_000, 100_000))
    log_dir = options.log_dir / NAME
    async with fresh_database() as database_url, wheel_broker(log_dir) as bootstrap:
        env = {"INVOICESYNC_SWEEPER_INTERVAL_SECONDS": "3600"}  # the bench runs its own
        with stack(database_url, bootstrap, log_dir, connectors=(), env=env) as running:
            partner = new_partner(running)
            conn = await connect_db(database_url)
            partner_id = await conn.fetchval("SELECT id FROM partners")  # the only one
            await conn.close()
            integrations = await _setup(database_url, partner_id)
            engine = create_engine(SecretStr(database_url), application_name="bench-growth")
            sweeper = PendingSweeper(
                create_sessionmaker(engine), pending_after=timedelta(minutes=10)
            )
            headers = dict(partner.headers)
            results: dict[int, dict[str, list[float]]] = {}
            async with httpx.AsyncClient(base_url=running.api_url, headers=headers) as http:
                done = 0
                for size in (small, large):
                    started = time.monotonic()
                    await _grow(database_url, partner_id, done + 1, size)
                    progress(NAME, f"{size:,} documents in {time.monotonic() - started:.0f} s")
                    done = size
                    probes = await _probes(http, database_url, integrations[2])
                    results[size] = await _measure(probes, sweeper)
            await engine.dispose()
    return _figures(results, small, large)


def _figures(results: dict[int, dict[str, list[float]]], small: int, large: int) -> list[Figure]:
    figures = []
    for name in results[small]:
        before, after = results[small][name], results[large][name]
        p99_before, p99_after = percentile(before, 99), percentile(after, 99)
        ratio = round(p99_after / p99_before, 2) if p99_before else None
        figures.append(
            Figure(
                NAME,
                f"{name}: p99 at {large:,} / {small:,}",
                round(p99_after, 1),
                "ms",
                reference=f"{p99_before:.1f} ms (p50 {percentile(before, 50):.1f} → "
                f"{percentile(after, 50):.1f})",
                ratio=ratio,
                target=f"<= {P99_RATIO:g}, p99 <= {P99_MS:g} ms",
                passed=ratio is not None and ratio <= P99_RATIO and p99_after <= P99_MS,
            )
        )
    return figures
