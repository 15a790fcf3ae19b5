"""Console pages: the server time of each page of the accountant's console (issue 23:
p95 <= 200 ms) with a million documents in the database (quick: 100 k).

The history is generated in SQL in a database of its own, as an accounting office with
many clients leaves it: 200 clients with two integrations each (Exact, Lexware, Yuki in
turn), some needing reconnecting, paused by the failure brake or in error; about 5 % of
the documents not synced anywhere (drafts, failed in both, waiting for a spent daily
budget), 1 % failed in one integration, the 40 newest in flight; a run of 100 documents
in progress; a finished manual run with its notification for every 100 documents, the 20
newest unread. The API runs in this process (uvicorn in a thread, no workers) behind a
timer around the ASGI call, so the figure is the server's time, not the client's; each
page is asked for 50 times after 3 warm requests, signed in as the partner."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from bench import history
from bench.common import Figure, Options, connect_db, fresh_database, percentile, progress
from invoicesync_api.app import create_app
from invoicesync_api.settings import ApiSettings
from invoicesync_shared.crypto import generate_key
from tests.support.servers import serve_in_thread

NAME = "console_pages"
BUDGET_SECONDS = 900  # generating 1 M takes minutes on a busy machine
CLIENTS = 200
PENDING = 40  # the newest documents, in flight in both integrations
RUN_DOCUMENTS = 100
SAMPLES = 50
WARM = 3
P95_MS = 200.0
ADMIN_TOKEN = "bench-console-admin"
BASE = datetime(2026, 12, 1, tzinfo=UTC)
STEP = 100_000

_CLIENTS = """
INSERT INTO clients (id, partner_id, name, country, timezone, created_at)
SELECT md5('client' || n)::uuid, $1, 'Client ' || lpad(n::text, 3, '0'), 'NL',
    'Europe/Amsterdam', $2::timestamptz - interval '3 years' + n * interval '1 day'
FROM generate_series(0, $3 - 1) n
"""
# Two per client, the systems in turn; every 50 clients one needs reconnecting, one is
# paused by the failure brake and one is in error (the inbox's integrations).
_INTEGRATIONS = """
INSERT INTO integrations (id, partner_id, client_id, system, status, status_reason,
    status_reason_code, failure_streak_code, settings, nightly_sync, nightly_hour,
    activated_at, created_at)
SELECT md5(md5('client' || c.n) || s.idx)::uuid, $1, c.id,
    (ARRAY['exact', 'lexware', 'yuki'])[(c.n + s.idx) % 3 + 1],
    CASE WHEN s.idx = 0 AND c.n % 50 = 5 THEN 'needs_reauthorization'
         WHEN s.idx = 1 AND c.n % 50 = 15 THEN 'paused'
         WHEN s.idx = 0 AND c.n % 50 = 25 THEN 'error'
         ELSE 'active' END,
    CASE WHEN s.idx = 0 AND c.n % 50 = 25 THEN 'The administration was not found.' END,
    CASE WHEN s.idx = 0 AND c.n % 50 = 25 THEN 'internal_error' END,
    CASE WHEN s.idx = 1 AND c.n % 50 = 15 THEN 'unknown_vat_code' END,
    '{}'::jsonb, false, 2, $2::timestamptz - interval '5 years',
    $2::timestamptz - interval '5 years' + s.idx * interval '1 second'
FROM (SELECT id, (substring(name FROM 8))::int AS n FROM clients WHERE partner_id = $1) c
CROSS JOIN (VALUES (0), (1)) s(idx)
"""
# g grows older; the client is g % 200 (the first, n = 0, has nothing unsynced), and
# what happened to a document follows its block b = g / 200, so every client has some of
# each: drafts b % 100 in (43, 63, 83, 93); failed in both b % 200 = 3 (four causes in
# turn); pending behind a spent daily budget b % 200 = 103; failed in the second
# integration only b % 100 = 7; the newest in flight; the rest booked. Foreign keys and
# triggers are off while generating (session_replication_role), so failed_syncs is
# written here as the trigger would keep it.
_KIND = """
CASE WHEN g <= $PENDING THEN 'in_flight'
     WHEN g % $CLIENTS = 0 THEN 'booked'
     WHEN (g / 200) % 100 IN (43, 63, 83, 93) THEN 'draft'
     WHEN (g / 200) % 200 = 3 THEN 'failed_both'
     WHEN (g / 200) % 200 = 103 THEN 'waiting'
     WHEN (g / 200) % 100 = 7 THEN 'failed_one'
     ELSE 'booked' END
"""
_DOCUMENTS = history.documents(
    client="md5('client' || (g % $6))::uuid",
    number="'C-' || lpad(g::text, 8, '0')",
    status="CASE WHEN d.kind = 'draft' THEN 'draft' ELSE 'booked' END",
    booked_at=history.booked_at("d.kind <> 'draft'"),
    has_booking_number="d.kind IN ('booked', 'failed_one')",
    failed_syncs="CASE d.kind WHEN 'failed_both' THEN 2 WHEN 'failed_one' THEN 1 ELSE 0 END",
    rows="""FROM generate_series($3::int, $4::int) g
CROSS JOIN LATERAL (SELECT KIND AS kind) d""",
).replace("KIND", _KIND.replace("$PENDING", "$5").replace("$CLIENTS", "$6"))
_SYNCS = history.syncs(
    integration="md5(md5('client' || (g % $5)) || i.idx)::uuid",
    error_code="""(ARRAY['unknown_vat_code', 'customer_rejected',
        'period_closed', 'unknown_journal'])[(g / 40000) % 4 + 1]""",
    error_message="'The accounting system refused the entry.'",
    answered="s.status IN ('booked', 'failed')",
    requested_now="g <= $4",
    waiting=(
        "CASE WHEN d.kind = 'waiting' THEN $1::timestamptz + interval '1 day' END",
        "CASE WHEN d.kind = 'waiting' THEN 'daily_limit' END",
    ),
    rows="""FROM generate_series($2::int, $3::int) g
CROSS JOIN LATERAL (SELECT KIND AS kind) d
CROSS JOIN (VALUES (0), (1)) i(idx)
CROSS JOIN LATERAL (SELECT CASE
    WHEN d.kind = 'in_flight' THEN (CASE WHEN g <= 5 THEN 'sending' ELSE 'pending' END)
    WHEN d.kind = 'failed_both' OR (d.kind = 'failed_one' AND i.idx = 1) THEN 'failed'
    WHEN d.kind = 'waiting' THEN 'pending'
    ELSE 'booked' END AS status) s
WHERE d.kind <> 'draft'""",
).replace("KIND", _KIND.replace("$PENDING", "$4").replace("$CLIENTS", "$5"))
# A finished manual run of 10 documents and its notification per 100 documents (the
# newest 20 unread), each run's items in both integrations.
_RUNS = """
INSERT INTO sync_runs (id, partner_id, client_id, integration_ids, trigger, status,
    documents_total, documents_synced, documents_failed, customers_synced, errors, deferred,
    started_at, finished_at)
SELECT md5('run' || r)::uuid, $1, md5('client' || (r % $4))::uuid,
    ARRAY[md5(md5('client' || (r % $4)) || 0)::uuid, md5(md5('client' || (r % $4)) || 1)::uuid],
    'manual', 'finished', 20, 20, 0, 0, '[]'::jsonb, '[]'::jsonb,
    $2::timestamptz - r * interval '1 hour', $2::timestamptz - r * interval '1 hour'
FROM generate_series(1, $3::int) r
"""
_NOTIFICATIONS = """
INSERT INTO notifications (id, partner_id, client_id, kind, sync_run_id, title, body, counts,
    errors, read_at, created_at)
SELECT md5('note' || r)::uuid, $1, md5('client' || (r % $4))::uuid, 'sync_run_finished',
    md5('run' || r)::uuid, 'Sync finished',
    'Documents: 10, each to 2 accounting systems; sends synced: 20 of 20; failed: 0; '
    || 'new customers created: 0.',
    '{"documents_total": 20, "documents_synced": 20, "documents_failed": 0}'::jsonb,
    '[]'::jsonb,
    CASE WHEN r > 20 THEN $2::timestamptz - r * interval '1 hour' + interval '5 minutes' END,
    $2::timestamptz - r * interval '1 hour'
FROM generate_series(1, $3::int) r
"""
_RUN_ITEMS = """
INSERT INTO sync_run_items (sync_run_id, document_id, integration_id, outcome)
SELECT md5('run' || r)::uuid, md5('doc' || (r % $2 + $2 * k))::uuid,
    md5(md5('client' || (r % $2)) || i.idx)::uuid, 'synced'
FROM generate_series(1, $1::int) r
CROSS JOIN generate_series(1, 10) k
CROSS JOIN (VALUES (0), (1)) i(idx)
"""


_DUPLICATES = """
UPDATE document_syncs s SET duplicate_of = md5('doc' || (f.g + $2))::uuid
FROM generate_series(7, $1::int, 5000) f(g)
WHERE s.document_id = md5('doc' || f.g)::uuid
    AND s.integration_id = md5(md5('client' || (f.g % $2)) || 0)::uuid
    AND s.status = 'booked'
"""


async def _generate(database_url: str, partner_id: uuid.UUID, documents: int) -> uuid.UUID:
    """The history; returns the id of the run in progress."""
    conn = await connect_db(database_url)
    try:
        await conn.execute("SET session_replication_role = replica")
        await conn.execute(_CLIENTS, partner_id, BASE, CLIENTS)
        await conn.execute(_INTEGRATIONS, partner_id, BASE)
        for start in range(1, documents + 1, STEP):
            end = min(start + STEP - 1, documents)
            await conn.execute(_DOCUMENTS, partner_id, BASE, start, end, PENDING, CLIENTS)
            await conn.execute(_SYNCS, BASE, start, end, PENDING, CLIENTS)
            progress(NAME, f"{end:,} documents")
        runs = documents // 100
        await conn.execute(_RUNS, partner_id, BASE, runs, CLIENTS)
        await conn.execute(_NOTIFICATIONS, partner_id, BASE, runs, CLIENTS)
        await conn.execute(_RUN_ITEMS, runs, CLIENTS)
        # The run in progress: the busy client's 100 newest documents in both integrations.
        run_id = uuid.uuid4()
        busy = await conn.fetchval("SELECT md5('client' || 1)::uuid")
        await conn.execute(
            "INSERT INTO sync_runs (id, partner_id, client_id, integration_ids, trigger, status,"
            " documents_total, documents_synced, documents_failed, customers_synced, errors,"
            " deferred, started_at) SELECT $1, $2, $3, array_agg(id ORDER BY created_at),"
            " 'manual', 'running', $4, $4 / 2, 0, 0, '[]'::jsonb, '[]'::jsonb, $5"
            " FROM integrations WHERE client_id = $3",
            run_id,
            partner_id,
            busy,
            RUN_DOCUMENTS * 2,
            BASE,
        )
        await conn.execute(
            "INSERT INTO sync_run_items (sync_run_id, document_id, integration_id)"
            " SELECT $1, d.id, s.integration_id FROM (SELECT id FROM documents"
            " WHERE client_id = $2 AND status = 'booked' ORDER BY created_at DESC LIMIT $3) d"
            " JOIN document_syncs s ON s.document_id = d.id",
            run_id,
            busy,
            RUN_DOCUMENTS,
        )
        # One document in 5,000 holds a booking number another holds (the inbox's
        # duplicate-number cause, from the partial index of the flagged rows).
        await conn.execute(_DUPLICATES, documents, CLIENTS)
        await conn.execute("RESET session_replication_role")
        await conn.execute("VACUUM ANALYZE")  # as autovacuum leaves them, the newest rows too
        return run_id
    finally:
        await conn.close()


class Timed:
    """Around the API's ASGI app: each request's server time by path and query."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.times: dict[str, list[float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            key = scope["path"] + (
                "?" + scope["query_string"].decode() if scope["query_string"] else ""
            )
            self.times.setdefault(key, []).append((time.perf_counter() - started) * 1000)


@contextmanager
def _api(database_url: str) -> Iterator[tuple[str, Timed]]:
    settings = ApiSettings(
        database_url=SecretStr(database_url),
        encryption_keys=SecretStr(generate_key()),
        admin_token=SecretStr(ADMIN_TOKEN),
        run_workers=False,
        rate_limit_per_minute=0,  # the bench asks faster than a person; its cost is measured
    )
    timed = Timed(create_app(settings))
    with serve_in_thread(timed) as url:
        yield url, timed


def _pages(run_id: uuid.UUID) -> dict[str, str]:
    busy, clean = uuid.UUID(_md5("client1")), uuid.UUID(_md5("client0"))
    documents = f"/console/clients/{busy}/documents"
    return {
        "clients": "/console/clients",
        "clients search": "/console/clients?q=client+1",
        "documents": documents,
        "documents not synced": f"{documents}?show=not_synced",
        "documents failed": f"{documents}?show=failed",
        "documents not synced (none)": f"/console/clients/{clean}/documents?show=not_synced",
        "documents failed (none)": f"/console/clients/{clean}/documents?show=failed",
        "inbox": "/console/inbox",
        "notifications": "/console/notifications",
        "bell": "/console/bell",
        "sync run": f"/console/sync-runs/{run_id}",
        "sync run progress": f"/console/sync-runs/{run_id}/progress",
    }


def _md5(text: str) -> str:
    """An id as the generator makes it (``md5(text)::uuid``)."""
    return hashlib.md5(text.encode()).hexdigest()


def _measure(url: str, timed: Timed, key: str, pages: dict[str, str]) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}
    with httpx.Client(base_url=url, timeout=60) as browser:
        signed = browser.post("/console/sign-in", data={"api_key": key})
        assert signed.status_code == 303, signed.text
        for name, path in pages.items():
            for _ in range(WARM):
                browser.get(path).raise_for_status()
            timed.times.clear()
            for _ in range(SAMPLES):
                answer = browser.get(path)
                if answer.status_code != 200:
                    raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
            results[name] = [t for ts in timed.times.values() for t in ts]
    return results


async def run(options: Options) -> list[Figure]:
    documents = int(options.pick(1_000_000, 100_000))
    async with fresh_database() as database_url:
        with _api(database_url) as (url, timed):
            async with httpx.AsyncClient(base_url=url, timeout=60) as http:
                created = await http.post(
                    "/admin/v1/partners",
                    json={"name": "Bench accountants"},
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                )
                created.raise_for_status()
            key = str(created.json()["api_key"])
            conn = await connect_db(database_url)
            partner_id = await conn.fetchval("SELECT id FROM partners")  # the only one
            await conn.close()
            started = time.monotonic()
            run_id = await _generate(database_url, partner_id, documents)
            generation = time.monotonic() - started
            progress(NAME, f"{documents:,} documents in {generation:.0f} s")
            results = await asyncio.to_thread(_measure, url, timed, key, _pages(run_id))
    return _figures(results, documents, generation)


def _figures(results: dict[str, list[float]], documents: int, generation: float) -> list[Figure]:
    figures: list[Figure] = [
        Figure(NAME, f"generating {documents:,} documents", round(generation, 1), "s")
    ]
    for name, samples in results.items():
        p95 = percentile(samples, 95)
        figures.append(
            Figure(
                NAME,
                f"{name}: server p95 at {documents:,}",
                round(p95, 1),
                "ms",
                reference=f"p50 {percentile(samples, 50):.1f} ms",
                target=f"p95 <= {P95_MS:g} ms",
                passed=p95 <= P95_MS,
            )
        )
    return figures
