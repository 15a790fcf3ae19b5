"""Retention: a steady load of documents with the retention windows scaled down; rows and
bytes of every table at the start, mid-run and the end. Bookkeeping tables must stay
flat, and what each further document leaves behind for good in bookkeeping must not
outweigh the document itself.

The load, through the real processes (API with its outbox relay, result consumer and
retention job; the Yuki connector; the sandbox without rate limits), for 10 minutes
(quick: 2): invoices POSTed open-loop at 5/s with an Idempotency-Key each, a webhook
endpoint subscribed to every event (its receiver answers 200), every 4th invoice edited
(PATCH) 10 s after it was sent (Yuki receives the edit again: a second ledger
generation), and a manual sync run over 20 booked invoices every 30 s (quick: 15 s),
for sync_run_items.

Scaling the windows down. Each window keeps its production length relative to the
others, a production day becoming 4 s (quick: 1 s): outbox 72 h → 12 s, processed events
192 h → 32 s, Idempotency-Keys 48 h → 8 s, webhook deliveries, sync-run items and
superseded ledger generations 720 h → 120 s. Settings alone cannot do it: the
Idempotency-Key window must be at least 24 h and the ledger's at least the broker's
redelivery horizon (168 h). The job judges ages by the shared clock, but every age it
judges is stamped by the database (or host) clock. So the sandbox's clock, which every
service follows here, is moved 7 days ahead once, before the load, and every window is
set to 7 days plus its scaled length: each row is then pruned its scaled length after
it was stamped, and the settings keep their lower bounds. Sync runs are the exception:
a run's finished_at, which ages its items, is stamped by the shared clock itself (already
moved), so the sync-run items' window is the scaled length alone. (Moving the clock forward in
steps during the load would not be faithful for these rows: each step ages every row
written after it by the whole lead, so once the lead passes a window the table is just
emptied at each pass.) The job runs every 4 s (quick: 2 s) instead of 300 s. The error
brake's rows (connector_call_errors) are aged on the database clock by design and keep
their production window (24 h): the brake prunes them itself as calls go.

Measured: per table, rows, the bytes of its live rows (sum of pg_column_size of each
row: the data kept, which neither the dead tuples of pruned rows nor the timing of
autovacuum confound; indexes not included) and pg_total_relation_size (disk, with
indexes and bloat; reported). connector_ledger and connector_remote_status are split
into superseded generations (windowed) and current ones (one per document and
integration, kept for good). The bookkeeping tables' rows are also counted every 2 s.
Figures:
- each windowed bookkeeping table: its highest count in the last fifth of the load
  against its highest count in the middle fifth (40-60 %, after the longest window has
  filled): flat when late <= 1.2 x mid (+ 10 rows for tables near empty);
- bookkeeping bytes per document from mid-run to the end (what each further document
  leaves behind once the windows are full) against business bytes per document over the
  same span: target ratio <= 1; the same ratio of the totals at the end is reported;
- business rows never pruned: every business table ends with at least its start rows,
  documents with exactly start + posted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bench.common import (
    Figure,
    Options,
    connect_db,
    count_sync_states,
    document_body,
    fresh_database,
    new_partner,
    progress,
    stack,
    wait_until,
    wheel_broker,
    yuki_client,
)
from invoicesync_api.settings import ApiSettings
from tests.support.processes import Stack
from tests.support.servers import serve_in_thread

NAME = "retention"
BUDGET_SECONDS = 780  # 600 s of load, start-up, warm-up, settling and stop
RATE = 5.0  # documents per second
PATCH_EVERY = 4  # every 4th document is edited once...
PATCH_LAG = 10.0  # ...this many seconds after it was sent
RUN_DOCUMENTS = 20  # booked documents per manual sync run
REPAIR_AT = 0.25  # of the load: the integration repaired from REPAIRED_DATE...
REPAIR_EVERY = 10  # ...the date every 10th document carries
ISSUED, REPAIRED_DATE = "2026-11-20", "2026-11-25"
LEAD = timedelta(days=7)  # the shared clock ahead of the database's
SAMPLE_SECONDS = 2.0
TREND = 0.5  # flatness: the trend of the rows from half the load to its end
FLAT_RATIO = 1.2
FLAT_SLACK = 10  # rows: tables that stay near empty
WARM_UP = 20  # documents, one per customer

# Setting (hours, ApiSettings field) of each window the bench scales down.
WINDOWS = (
    "retention_outbox_hours",
    "retention_processed_events_hours",
    "retention_idempotency_keys_hours",
    "retention_webhook_deliveries_hours",
    "retention_sync_run_items_hours",
    "retention_ledger_generations_hours",
)
# Windows whose ages are stamped by the shared clock, already 7 days ahead like the
# job's "now": no lead added, the scaled length alone. A run's finished_at; a webhook
# delivery's last attempt and delivery (the job also asks its created_at, stamped by the
# database, to be older: with no lead that holds at once, the shared stamps decide).
SHARED_CLOCK_STAMPED = ("retention_sync_run_items_hours", "retention_webhook_deliveries_hours")
BUSINESS = (
    "partners",
    "api_keys",
    "clients",
    "integrations",
    "documents",
    "document_syncs",
    "sync_runs",
    "notifications",
    "webhook_endpoints",
    "customer_links",
)
WINDOWED = (
    "outbox_messages",
    "processed_events",
    "idempotency_keys",
    "webhook_deliveries",
    "webhook_attempts",
    "sync_run_items",
    "connector_call_errors",
    "connector_rate_slots",
)
# Rows keyed by generation: the superseded ones are windowed, the current one stays.
GENERATIONS = ("connector_ledger", "connector_remote_status")
OLD = " (superseded generations)"
CURRENT = " (current generations)"
NOT_MEASURED = ("alembic_version",)

_SUPERSEDED = """
    EXISTS (SELECT 1 FROM connector_ledger n WHERE n.integration_id = t.integration_id
            AND n.document_id = t.document_id AND n.generation > t.generation)
"""


def _scaled(options: Options) -> tuple[dict[str, float], float]:
    """The scaled window of each setting in seconds, and the job's interval."""
    seconds_per_day = options.pick(4.0, 1.0)
    fields = ApiSettings.model_fields
    windows = {name: float(fields[name].default) / 24 * seconds_per_day for name in WINDOWS}
    return windows, options.pick(4.0, 2.0)


def _short(name: str) -> str:
    return name.removeprefix("retention_").removesuffix("_hours")


def _lead_hours(name: str) -> float:
    """What the job's clock is ahead of the window's stamps."""
    return 0.0 if name in SHARED_CLOCK_STAMPED else LEAD.total_seconds() / 3600


def _env(windows: dict[str, float], interval: float) -> dict[str, str]:
    env = {
        f"INVOICESYNC_{n.upper()}": f"{_lead_hours(n) + s / 3600:.6f}" for n, s in windows.items()
    }
    return {**env, "INVOICESYNC_RETENTION_INTERVAL_SECONDS": str(interval)}


# Measuring


@dataclass
class Size:
    rows: int
    live_bytes: int
    disk_bytes: int = 0


Snapshot = dict[str, Size]


async def _tables(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
    )
    return [str(r["tablename"]) for r in rows if r["tablename"] not in NOT_MEASURED]


async def _snapshot(database_url: str) -> Snapshot:
    """Rows, live bytes and disk bytes of every table; the generation-keyed ones split."""
    conn = await connect_db(database_url)
    try:
        sizes: Snapshot = {}
        for table in await _tables(conn):
            row = await conn.fetchrow(
                f"SELECT count(*) AS n, coalesce(sum(pg_column_size(t.*)), 0) AS b,"
                f" pg_total_relation_size('{table}') AS d FROM {table} t"
            )
            assert row is not None
            if table not in GENERATIONS:
                sizes[table] = Size(int(row["n"]), int(row["b"]), int(row["d"]))
                continue
            old = await conn.fetchrow(
                f"SELECT count(*) AS n, coalesce(sum(pg_column_size(t.*)), 0) AS b"
                f" FROM {table} t WHERE {_SUPERSEDED}"
            )
            assert old is not None
            sizes[table + OLD] = Size(int(old["n"]), int(old["b"]))
            sizes[table + CURRENT] = Size(
                int(row["n"]) - int(old["n"]), int(row["b"]) - int(old["b"]), int(row["d"])
            )
        return sizes
    finally:
        await conn.close()


@dataclass
class Samples:
    """Rows of each windowed table, counted every SAMPLE_SECONDS during the load."""

    at: list[float] = field(default_factory=list)
    rows: list[dict[str, int]] = field(default_factory=list)

    def series(self, table: str, since: float = 0.0) -> list[tuple[float, int]]:
        return [
            (at, rows.get(table, 0))
            for at, rows in zip(self.at, self.rows, strict=True)
            if at >= since
        ]

    def trend(self, table: str, since: float, until: float) -> tuple[float, float]:
        """The least-squares line through the counts from ``since`` on, at ``since`` and
        at ``until``: the sawtooth of the passes and bursts of load average out."""
        points = self.series(table, since)
        if len(points) < 2:
            return float("nan"), float("nan")
        xs, ys = [float(p[0]) for p in points], [float(p[1]) for p in points]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        sxx = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
        return my + slope * (since - mx), my + slope * (until - mx)


async def _count(conn: asyncpg.Connection, tables: list[str]) -> dict[str, int]:
    counts = {}
    for table in tables:
        counts[table] = int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    for table in GENERATIONS:
        counts[table + OLD] = int(
            await conn.fetchval(f"SELECT count(*) FROM {table} t WHERE {_SUPERSEDED}")
        )
    return counts


async def _sample(database_url: str, started: float, samples: Samples) -> None:
    conn = await connect_db(database_url)
    try:
        tables = [t for t in await _tables(conn) if t in WINDOWED]
        while True:
            at = time.monotonic() - started
            samples.rows.append(await _count(conn, tables))
            samples.at.append(at)
            await asyncio.sleep(max(0.0, SAMPLE_SECONDS - (time.monotonic() - started - at)))
    finally:
        await conn.close()


# The load


@dataclass
class Load:
    posted: list[str] = field(default_factory=list)
    patched: int = 0
    runs: int = 0
    runs_busy: int = 0  # 409: the previous run still going
    repaired: int = 0  # documents the repair reset to a new generation
    repaired_at: float = 0.0  # seconds into the load
    errors: list[str] = field(default_factory=list)


@contextlib.contextmanager
def _receiver(partner: httpx.Client) -> Iterator[list[int]]:
    """A webhook endpoint subscribed to every event; its receiver answers 200."""
    received: list[int] = []

    async def handle(request: Request) -> PlainTextResponse:
        await request.body()
        received.append(1)
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/hooks", handle, methods=["POST"])])
    with serve_in_thread(app) as url:
        created = partner.post(
            "/v1/webhook-endpoints", json={"url": f"{url}/hooks", "events": ["*"]}
        )
        created.raise_for_status()
        yield received


async def _send(load: Load, what: str, request: Any) -> httpx.Response | None:
    try:
        response: httpx.Response = await request
    except httpx.HTTPError as exc:
        load.errors.append(f"{what}: {exc!r}")
        return None
    if response.status_code >= 400 and not (what == "run" and response.status_code == 409):
        load.errors.append(f"{what}: {response.status_code} {response.text[:200]}")
    return response


async def _post(http: httpx.AsyncClient, load: Load, n: int, body: dict[str, Any]) -> None:
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    response = await _send(load, "POST", http.post("/v1/invoices", json=body, headers=headers))
    if response is not None and response.status_code == 201:
        load.posted[n] = str(response.json()["id"])


async def _patch(http: httpx.AsyncClient, load: Load, document_id: str, n: int) -> None:
    due = (date(2026, 12, 20) + timedelta(days=1 + n % 30)).isoformat()
    response = await _send(
        load, "PATCH", http.patch(f"/v1/invoices/{document_id}", json={"due_date": due})
    )
    if response is not None and response.status_code == 200:
        load.patched += 1


async def _run(http: httpx.AsyncClient, load: Load, document_ids: list[str]) -> None:
    response = await _send(
        load, "run", http.post("/v1/sync-runs", json={"document_ids": document_ids})
    )
    if response is not None and response.status_code == 202:
        load.runs += 1
    elif response is not None and response.status_code == 409:
        load.runs_busy += 1


async def _repair(http: httpx.AsyncClient, load: Load, integration_id: str, at: float) -> None:
    """As a partner would: again after a 500 ("try again"; under this load the repair's
    reset can deadlock with an edit), at most three times; each refusal is listed."""
    for _ in range(3):
        url = f"/v1/integrations/{integration_id}/repair"
        response = await _send(load, "repair", http.post(url, json={"from_date": REPAIRED_DATE}))
        if response is not None and response.status_code == 200:
            load.repaired, load.repaired_at = int(response.json()["documents_reset"]), at
            return
        if response is not None and response.status_code != 500:
            return
        await asyncio.sleep(1.0)


async def _load(
    http: httpx.AsyncClient,
    client_id: str,
    integration_id: str,
    seconds: float,
    run_every: float,
    at_mid: Any,
) -> Load:
    """Open loop: document n at n / RATE s; its edit PATCH_LAG s later (every
    PATCH_EVERY-th); a manual run over RUN_DOCUMENTS sent 2 x PATCH_LAG s ago every
    ``run_every`` s; at REPAIR_AT of the load the integration repaired from the date
    every REPAIR_EVERY-th document carries (a new ledger generation for each, pushed
    again); ``at_mid`` awaited (in the background) at half time."""
    total = int(RATE * seconds)
    lag = int(PATCH_LAG * RATE)
    load = Load(posted=[""] * total)
    tasks: set[asyncio.Task[None]] = set()
    started = time.monotonic()
    next_run, mid = started + run_every, asyncio.create_task(_at(started + seconds / 2, at_mid))
    repair_at = int(total * REPAIR_AT)

    def spawn(coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    for n in range(total):
        await asyncio.sleep(max(0.0, started + n / RATE - time.monotonic()))
        issued = REPAIRED_DATE if n % REPAIR_EVERY == 0 else ISSUED
        body = document_body(client_id, f"R-{n}", customer=f"k{n % WARM_UP}", issue_date=issued)
        spawn(_post(http, load, n, body))
        if n == repair_at:
            spawn(_repair(http, load, integration_id, time.monotonic() - started))
        if n >= lag and (n - lag) % PATCH_EVERY == 0 and load.posted[n - lag]:
            spawn(_patch(http, load, load.posted[n - lag], n - lag))
        # No run around the repair: its sync run would meet a running one (409), which
        # leaves the integration deactivated (see the report of this benchmark's commit).
        near_repair = repair_at - 15 * RATE <= n <= repair_at + 5 * RATE
        if time.monotonic() >= next_run and near_repair:
            next_run += run_every
        elif time.monotonic() >= next_run and n >= 2 * lag + RUN_DOCUMENTS:
            # Sent 2 x PATCH_LAG ago: booked, and booked again if edited.
            chosen = [d for d in load.posted[n - 2 * lag - RUN_DOCUMENTS : n - 2 * lag] if d]
            spawn(_run(http, load, chosen))
            next_run += run_every
    while tasks:
        await asyncio.gather(*list(tasks))
    await mid
    return load


async def _at(moment: float, action: Any) -> None:
    await asyncio.sleep(max(0.0, moment - time.monotonic()))
    await action()


# The run


def _lead_the_clock(running: Stack) -> None:
    """Move the sandbox's clock, which every service follows, LEAD ahead."""
    advanced = httpx.post(
        f"{running.sandbox_url}/_sandbox/clock/advance",
        json={"seconds": LEAD.total_seconds()},
        timeout=10,
    )
    advanced.raise_for_status()


async def run(options: Options) -> list[Figure]:
    log_dir = options.log_dir / NAME
    windows, interval = _scaled(options)
    async with fresh_database() as database_url, wheel_broker(log_dir) as bootstrap:
        with stack(
            database_url,
            bootstrap,
            log_dir,
            connectors=("yuki",),
            env=_env(windows, interval),
            follow_sandbox_clock=True,
        ) as running:
            _lead_the_clock(running)
            partner = new_partner(running)
            client_id, _ = yuki_client(running, partner, "Retention BV")
            with _receiver(partner) as received:
                figures = await _measure(options, running, database_url, partner, client_id)
                figures.append(Figure(NAME, "webhook requests received", len(received), "requests"))
            partner.close()
    note = ", ".join(f"{_short(n)} {s:g} s" for n, s in windows.items())
    shared = " and ".join(_short(n) for n in SHARED_CLOCK_STAMPED)
    figures.append(
        Figure(
            NAME,
            "windows (scaled)",
            None,
            reference=f"job every {interval:g} s",
            note=f"{note}; the shared clock {LEAD.days} days ahead, each window that plus"
            f" its scaled length ({shared}: the scaled length alone, their stamps"
            " already on the shared clock)",
        )
    )
    return figures


async def _measure(
    options: Options, running: Stack, database_url: str, partner: httpx.Client, client_id: str
) -> list[Figure]:
    seconds = options.pick(600, 120)
    run_every = options.pick(30, 15)
    key = str(partner.headers["Authorization"])
    async with httpx.AsyncClient(
        base_url=running.api_url, headers={"Authorization": key}, timeout=60
    ) as http:
        integrations = await http.get(f"/v1/clients/{client_id}/integrations")
        integrations.raise_for_status()
        (integration_id,) = [str(i["id"]) for i in integrations.json()]
        # Warm-up: one document per customer (customer links, the Yuki session, pools).
        for n in range(WARM_UP):
            body = document_body(client_id, f"W-{n}", customer=f"k{n}")
            (await http.post("/v1/invoices", json=body)).raise_for_status()
        await wait_until(
            lambda: _booked_at_least(database_url, WARM_UP), within=60, what="warm-up booked"
        )
        start = await _snapshot(database_url)
        progress(NAME, f"load: {RATE:g} documents/s for {seconds:g} s")
        snapshots: dict[str, Snapshot] = {}

        async def at_mid() -> None:
            snapshots["mid"] = await _snapshot(database_url)
            progress(NAME, "mid-run snapshot")

        samples = Samples()
        started = time.monotonic()
        sampler = asyncio.create_task(_sample(database_url, started, samples))
        try:
            load = await _load(http, client_id, integration_id, seconds, run_every, at_mid)
            end = await _snapshot(database_url)
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        progress(NAME, "load done; waiting for the last documents to be booked")
        posted = sum(1 for d in load.posted if d)
        with contextlib.suppress(Exception):
            await wait_until(lambda: _booked_at_least(database_url, WARM_UP + posted), within=30)
        booked = await count_sync_states(database_url, ("booked",))
    return _figures(start, snapshots["mid"], end, samples, seconds, load, posted, booked)


async def _booked_at_least(database_url: str, n: int) -> bool:
    return await count_sync_states(database_url, ("booked",)) >= n


def _kind(table: str) -> str:
    if table in BUSINESS:
        return "business"
    if table in WINDOWED or table.endswith(OLD):
        return "windowed"
    if table.endswith(CURRENT):
        return "per document"
    return "unclassified"


def _figures(
    start: Snapshot,
    mid: Snapshot,
    end: Snapshot,
    samples: Samples,
    seconds: float,
    load: Load,
    posted: int,
    booked: int,
) -> list[Figure]:
    figures = [
        Figure(
            NAME,
            "load",
            posted,
            "documents",
            reference=(
                f"{load.patched} edited, {load.runs} manual runs ({load.runs_busy} busy),"
                f" {load.repaired} reset by the repair"
            ),
            # Every document accepted, or the figures are off; an edit, run or repair
            # refused is shown, not failed on (a repair under load can deadlock with them).
            passed=False if any(e.startswith("POST") for e in load.errors) else None,
            note="; ".join(load.errors[:3])
            + (f" (+{len(load.errors) - 3})" if len(load.errors) > 3 else ""),
        ),
        Figure(
            NAME,
            "documents booked in Yuki at the end",
            booked,
            reference=f"{WARM_UP + posted} sent",
        ),
    ]
    # Flat: each windowed table, its trend over the second half of the load.
    since = TREND * seconds
    for table in sorted(t for t in end if _kind(t) == "windowed"):
        at_half, at_end = samples.trend(table, since, seconds)
        peak = max((rows for _, rows in samples.series(table, since)), default=0)
        flat = at_end <= max(FLAT_RATIO * at_half, at_half + FLAT_SLACK)
        figures.append(
            Figure(
                NAME,
                f"{table} rows, trend at the end",
                round(at_end, 1),
                "rows",
                reference=(
                    f"trend at half {at_half:.1f}, peak {peak}; start {start[table].rows}"
                    f" → end {end[table].rows} ({end[table].live_bytes / 1024:.0f} KiB live)"
                ),
                ratio=round(at_end / at_half, 2) if at_half >= 1 else None,
                target=f"<= {FLAT_RATIO:g} x half (+{FLAT_SLACK})",
                passed=flat,
            )
        )
    # The repair's superseded generations: gone once their window has passed.
    superseded = "connector_ledger" + OLD
    after = samples.series(superseded, load.repaired_at)
    figures.append(
        Figure(
            NAME,
            "ledger generations the repair superseded, left at the end",
            end[superseded].rows,
            "rows",
            reference=(
                f"{load.repaired} documents reset at {load.repaired_at:.0f} s,"
                f" peak {max((r for _, r in after), default=0)} superseded"
            ),
            target="0",
            passed=load.repaired > 0 and end[superseded].rows == 0,
        )
    )
    for table in sorted(t for t in end if _kind(t) in ("per document", "unclassified")):
        figures.append(
            Figure(
                NAME,
                f"{table} rows at the end",
                end[table].rows,
                "rows",
                reference=f"start {start[table].rows}, mid {mid[table].rows}",
                note=f"{_kind(table)}: {end[table].live_bytes / 1024:.0f} KiB live",
            )
        )
    # Bytes per document, from mid-run to the end.
    documents = end["documents"].rows - mid["documents"].rows

    def grown(kind: tuple[str, ...], a: Snapshot, b: Snapshot) -> int:
        return sum(b[t].live_bytes - a.get(t, Size(0, 0)).live_bytes for t in b if _kind(t) in kind)

    bookkeeping = ("windowed", "per document", "unclassified")
    kept = grown(bookkeeping, mid, end) / documents
    business = grown(("business",), mid, end) / documents
    per_table = ", ".join(
        f"{t} {(end[t].live_bytes - mid[t].live_bytes) / documents:.0f}"
        for t in sorted(end)
        if _kind(t) != "business" and abs(end[t].live_bytes - mid[t].live_bytes) / documents >= 1
    )
    figures.append(
        Figure(
            NAME,
            "bookkeeping bytes per document, mid → end",
            round(kept),
            "B",
            reference=f"business {business:.0f} B per document ({documents} documents)",
            ratio=round(kept / business, 2),
            target="<= 1",
            passed=kept <= business,
            note=f"B per document: {per_table}",
        )
    )
    total = {
        k: sum(s.live_bytes for t, s in end.items() if _kind(t) in k)
        for k in (bookkeeping, ("business",))
    }
    disk = {
        k: sum(s.disk_bytes for t, s in end.items() if _kind(t) in k)
        for k in (bookkeeping, ("business",))
    }
    figures.append(
        Figure(
            NAME,
            "bookkeeping live bytes at the end",
            round(total[bookkeeping] / 1024),
            "KiB",
            reference=f"business {total[('business',)] / 1024:.0f} KiB",
            ratio=round(total[bookkeeping] / total[("business",)], 2),
            note=(
                f"on disk (pg_total_relation_size): bookkeeping {disk[bookkeeping] / 2**20:.1f}"
                f" MiB, business {disk[('business',)] / 2**20:.1f} MiB"
            ),
        )
    )
    # Business rows never pruned.
    shrunk = [t for t in start if _kind(t) == "business" and end[t].rows < start[t].rows]
    expected = start["documents"].rows + posted
    figures.append(
        Figure(
            NAME,
            "documents at the end",
            end["documents"].rows,
            "rows",
            reference=f"start {start['documents'].rows} + {posted} posted",
            target="= start + posted; no business table shrinks",
            passed=end["documents"].rows == expected and not shrunk,
            note=(f"shrunk: {', '.join(shrunk)}; " if shrunk else "")
            + ", ".join(f"{t} {start[t].rows} → {end[t].rows}" for t in BUSINESS if t in end),
        )
    )
    return figures
