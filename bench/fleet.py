"""Fleet: many companies with backlogs at once, each at its accounting system's real rate
budget: 100 Exact divisions (60 calls per minute each) and 50 Lexware organisations (2
requests per second each), against the sandbox enforcing those limits. The sum of the
budgets is 100 + 100 = 200 calls per second, about one document each in steady state
(customers known), so a fleet worked side by side up to its budgets books close to 200
documents per second; one bounded by our own concurrency (a handler waiting for its
tenant's budget holding one of the consumer's 32 slots) books a fraction of it.

Setup: each company is created as a partner would (the API, the sandbox's consent), many
at once, and books one warm-up document (its customer is known afterwards). The backlog
is then written in SQL, cloned from each company's warm-up document (the document, its
sync row and its outbox event, as the accept path writes them), interleaved company by
company, and the API's outbox relay publishes it. The sandbox's counters start afresh
before it (Exact's minute opens with a division's first call after the previous one
ended, so a whole minute from the first call is what a division's budget allows).

Counted on the sandbox side over whole minutes from the first document call: documents
per second against the sum of the budgets (target >= 0.9), 429s (0), each company's
share of its own budget, slowest against the median (target >= 0.67), and whether each
company's documents were booked in their order. With one replica of each connector and
with two (two stacks started together: the wheel broker needs about a minute to
rebalance a group joined later); the CPU each process used in the window, and the
machine's, tell whether the machine could carry it (a 2-core machine may not: then the
figure says so and misses, honestly)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from bench.common import (
    Call,
    Figure,
    Options,
    ProcessUsage,
    Sampler,
    StackSpec,
    clear_sandbox_calls,
    connect_db,
    connect_exact,
    count_sync_states,
    document_body,
    fresh_database,
    german_document,
    lexware_client,
    new_client,
    new_exact_division,
    new_partner,
    post_documents,
    progress,
    sandbox_calls,
    stacks,
    wait_until,
    wheel_broker,
)
from tests.support.processes import Stack

NAME = "fleet"
BUDGET_SECONDS = 420  # 200 consents one at a time (Exact refuses overlapping ones)
DIVISIONS = 100
EXACT_PER_MINUTE = 60
ORGANISATIONS = 50
LEXWARE_PER_SECOND = 2.0
BUDGETS = DIVISIONS * EXACT_PER_MINUTE / 60 + ORGANISATIONS * LEXWARE_PER_SECOND  # calls/s
MINUTES = 1  # whole minutes of steady state per phase (Exact's windows are minutes)
# Backlog per company: more than the window can take, so none runs dry in it.
EXACT_BACKLOG = 75
LEXWARE_BACKLOG = int(LEXWARE_PER_SECOND * 60 * MINUTES) + 30
SETUP_THREADS = 8
TARGET = 0.9
FAIRNESS = 0.67
SANDBOX = {
    "exact_minutely_limit": str(EXACT_PER_MINUTE),
    "exact_daily_limit": "5000",
    "lexware_requests_per_second": str(LEXWARE_PER_SECOND),
}
# Two stacks share the machine's PostgreSQL (100 connections by default): the API only
# relays the backlog and records results here, so a small pool (the connectors' are 20).
API = {"INVOICESYNC_DATABASE_POOL_SIZE": "5"}
EXACT_API = "/exact/api/v1/"
LEXWARE_API = "/lexware/v1/"
# Set to a folder: py-spy samples every process of the stack through the measured minute
# and writes its collapsed stacks there (``<replicas>-<process>.txt``, CPU only).
PROFILE_VARIABLE = "BENCH_FLEET_PROFILE"
PROFILE_RATE = 50  # samples per second and process (py-spy --nonblocking: no pauses)


@dataclass
class Fleet:
    """One stack's companies: client ids by system, and the partner's key."""

    key: str
    exact: list[str] = field(default_factory=list)
    lexware: list[str] = field(default_factory=list)


@dataclass
class Phase:
    replicas: int
    calls: list[Call]
    usage: ProcessUsage
    machine_busy: float  # cores of the whole machine busy in the window
    out_of_order: int
    checked: int
    sampled_until: float  # epoch seconds: the end of the block whose CPU was sampled
    relayed: int  # documents queued (and relayed by the API) while the CPU was sampled
    sessions: int  # PostgreSQL sessions opened on the stack's database in that block


async def run(options: Options) -> list[Figure]:
    log_dir = options.log_dir / NAME
    phases: list[Phase] = []
    async with contextlib.AsyncExitStack() as resources:
        one_db = await resources.enter_async_context(fresh_database())
        two_db = await resources.enter_async_context(fresh_database())
        one_bus = await resources.enter_async_context(wheel_broker(log_dir / "1-replica"))
        two_bus = await resources.enter_async_context(wheel_broker(log_dir / "2-replicas"))
        specs = (
            StackSpec(one_db, one_bus, log_dir / "1-replica", ("exact", "lexware"), SANDBOX, API),
            StackSpec(
                two_db,
                two_bus,
                log_dir / "2-replicas",
                ("exact", "exact", "lexware", "lexware"),
                SANDBOX,
                API,
            ),
        )
        one, two = resources.enter_context(stacks(*specs))
        progress(NAME, "both stacks ready")
        fleets = await asyncio.gather(_set_up(one), _set_up(two))
        progress(NAME, f"{DIVISIONS} divisions and {ORGANISATIONS} organisations on each stack")
        for replicas, (running, database_url, bootstrap, fleet) in enumerate(
            [(one, one_db, one_bus, fleets[0]), (two, two_db, two_bus, fleets[1])], start=1
        ):
            await _warm_up(running, database_url, fleet)
            progress(NAME, f"warm-up documents booked ({replicas} replica(s))")
            phase = await _phase(replicas, running, database_url, bootstrap, fleet)
            phases.append(phase)
            cpu = _per_document(f"{replicas}", phase)
            progress(
                NAME,
                f"{MINUTES} minute(s) measured with {replicas} replica(s): "
                f"{cpu.value} ms of CPU per document ({cpu.reference}); {cpu.note}",
            )
            if replicas == 1:  # its processes stay out of the 2-replica phase
                for name in list(running.processes):
                    running.kill(name)
    return [figure for phase in phases for figure in _figures(phase)]


# Setup


def _companies(running: Stack, key: str, system: str, first: int, count: int) -> list[str]:
    """``count`` companies of ``system``, one after the other (one thread's share)."""
    made = []
    # No keep-alive: a connection idle through a consent under load may be closed by the
    # server just as it is reused (a reset).
    api = httpx.Client(
        base_url=running.api_url,
        timeout=60,
        headers={"Authorization": key},
        limits=httpx.Limits(max_keepalive_connections=0),
    )
    with api:
        for n in range(first, first + count):
            if system == "exact":
                client_id = new_client(api, f"Fleet Exact {n}")
                connect_exact(api, client_id, new_exact_division(running))
            else:
                client_id = lexware_client(
                    running, api, f"Fleet Lexware {n} GmbH", own_organisation=True
                )
            made.append(client_id)
    return made


async def _set_up(running: Stack) -> Fleet:
    """The partner and its companies, ``SETUP_THREADS`` at a time (each company's consent
    is a few requests one after the other)."""
    partner = new_partner(running)
    fleet = Fleet(str(partner.headers["Authorization"]))
    partner.close()
    shares: list[tuple[str, int, int]] = []
    for system, total in (("exact", DIVISIONS), ("lexware", ORGANISATIONS)):
        size = -(-total // SETUP_THREADS)
        shares += [(system, n, min(size, total - n)) for n in range(0, total, size)]
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(len(shares)) as pool:
        made = await asyncio.gather(
            *(
                loop.run_in_executor(pool, _companies, running, fleet.key, system, first, count)
                for system, first, count in shares
            )
        )
    for (system, _, _), client_ids in zip(shares, made, strict=True):
        getattr(fleet, system).extend(client_ids)
    return fleet


async def _warm_up(running: Stack, database_url: str, fleet: Fleet) -> None:
    """One document per company, booked: its customer is known afterwards, and it is the
    template the backlog is cloned from."""
    bodies = [document_body(c, "W-0", customer="k0") for c in fleet.exact]
    bodies += [german_document(c, "W-0", "k0") for c in fleet.lexware]
    await post_documents(running.api_url, fleet.key, bodies, concurrency=16)

    async def settled() -> bool:
        done = await count_sync_states(database_url, ("sent", "booked", "failed"))
        return done >= len(bodies)

    await wait_until(settled, within=90, what="warm-up documents booked")
    failed = await count_sync_states(database_url, ("failed",))
    if failed:
        raise RuntimeError(f"{failed} warm-up documents failed")


# The backlog, in SQL


_BACKLOG = """
CREATE TEMP TABLE fleet_backlog ON COMMIT DROP AS
SELECT n, t.idx, t.document_id AS template_id, gen_random_uuid() AS document_id,
    gen_random_uuid() AS event_id, 'F-' || lpad(n::text, 5, '0') AS number
FROM unnest($1::uuid[]) WITH ORDINALITY AS t(document_id, idx)
CROSS JOIN LATERAL generate_series(1, (($2::int[])[t.idx])) AS n;

INSERT INTO documents
SELECT r.*
FROM fleet_backlog b JOIN documents d ON d.id = b.template_id,
LATERAL jsonb_populate_record(NULL::documents, to_jsonb(d) || jsonb_build_object(
    'id', b.document_id, 'number', b.number, 'external_id', 'ext-' || b.number,
    'created_at', now(), 'updated_at', now(), 'booked_at', NULL,
    'has_booking_number', false)) AS r
ORDER BY b.n, b.idx;

INSERT INTO document_syncs (document_id, integration_id, status, generation, sweeps,
    requested_at)
SELECT b.document_id, s.integration_id, 'pending', 0, 0, now()
FROM fleet_backlog b JOIN document_syncs s ON s.document_id = b.template_id;

INSERT INTO outbox_messages (event_id, topic, key, event_type, envelope)
SELECT b.event_id, o.topic, o.key, o.event_type,
    jsonb_set(jsonb_set(jsonb_set(jsonb_set(jsonb_set(o.envelope,
        '{id}', to_jsonb(b.event_id::text)),
        '{subject}', CASE WHEN o.envelope->>'subject' = b.template_id::text
            THEN to_jsonb(b.document_id::text) ELSE o.envelope->'subject' END),
        '{data,document,id}', to_jsonb(b.document_id::text)),
        '{data,document,number}', to_jsonb(b.number)),
        '{data,document,external_id}', to_jsonb('ext-' || b.number))
FROM fleet_backlog b
JOIN outbox_messages o ON o.envelope->'data'->'document'->>'id' = b.template_id::text
ORDER BY b.n, b.idx;
"""


async def _write_backlog(database_url: str, fleet: Fleet) -> int:
    """Each company's backlog, cloned from its warm-up document, interleaved company by
    company (so every company has documents queued from the relay's first batches)."""
    conn = await connect_db(database_url)
    try:
        templates = {
            str(r["client_id"]): r["id"]
            for r in await conn.fetch("SELECT id, client_id FROM documents WHERE number = 'W-0'")
        }
        clients = fleet.exact + fleet.lexware
        sizes = [EXACT_BACKLOG] * len(fleet.exact) + [LEXWARE_BACKLOG] * len(fleet.lexware)
        async with conn.transaction():
            statements = [s for s in _BACKLOG.split(";\n") if s.strip()]
            await conn.execute(statements[0], [templates[c] for c in clients], sizes)
            for statement in statements[1:]:
                await conn.execute(statement)
        return sum(sizes)
    finally:
        await conn.close()


# A phase


async def _phase(
    replicas: int, running: Stack, database_url: str, bootstrap: str, fleet: Fleet
) -> Phase:
    async with httpx.AsyncClient(timeout=60) as http:
        await http.put(
            f"{running.sandbox_url}/_sandbox/exact/limits", json={"reset_counters": True}
        )
        await clear_sandbox_calls(http, running)
        pids = {name: p.pid for name, p in running.processes.items()}
        pids.update(_broker(bootstrap))
        sampler = Sampler(pids)
        backends = _Backends(database_url)
        sessions_before = await _sessions(database_url)
        with sampler.loaded() as usage, backends.sampled(usage):
            written = await _write_backlog(database_url, fleet)
            progress(NAME, f"{written} documents queued in SQL ({replicas} replica(s))")
            first = await wait_until(
                lambda: _first_document(http, running), within=60, what="first document call"
            )
            # Wait out the window in the sampled block, with the machine's CPU alongside.
            psutil.cpu_percent()  # the machine's busy share from here
            end = first + 60 * MINUTES + 2
            with _profiled(pids, replicas, end - time.time()):
                await asyncio.sleep(max(0.0, end - time.time()))
            machine_busy = psutil.cpu_percent() / 100 * (psutil.cpu_count() or 1)
            sampled_until = time.time()
        sessions = await _sessions(database_url) - sessions_before
        calls = await sandbox_calls(http, running, "/")
    checked, out_of_order = await _order(database_url)
    return Phase(
        replicas,
        calls,
        usage,
        machine_busy,
        out_of_order,
        checked,
        sampled_until,
        written,
        sessions,
    )


async def _sessions(database_url: str) -> int:
    """Sessions ever opened on the database (PostgreSQL's own count): a pool that closes
    connections and opens them again under load shows here, and its new backends' CPU does
    not show in ``_Backends`` (a backend that ended inside the block is not seen)."""
    conn = await connect_db(database_url)
    try:
        value = await conn.fetchval(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        )
    finally:
        await conn.close()
    return int(value or 0)


def _broker(bootstrap: str) -> dict[str, int]:
    """The broker's process (its command line names its port), to count its CPU too."""
    port = bootstrap.rsplit(":", 1)[1]
    for proc in psutil.process_iter(["cmdline"]):
        if any(port in part for part in proc.info["cmdline"] or ()) and proc.pid != os.getpid():
            return {"broker": proc.pid}
    return {}


class _Backends:
    """CPU seconds of the PostgreSQL backends serving one database (the pools' connections
    live through the phase; one that starts inside it counts from zero)."""

    def __init__(self, database_url: str) -> None:
        self._name = database_url.rsplit("/", 1)[1].split("?")[0]

    def _cpu(self) -> dict[int, float]:
        seconds = {}
        for proc in psutil.process_iter(["cmdline"]):
            cmdline = " ".join(proc.info["cmdline"] or ())
            if cmdline.startswith("postgres:") and f" {self._name} " in cmdline:
                with contextlib.suppress(psutil.Error):
                    times = proc.cpu_times()
                    seconds[proc.pid] = times.user + times.system
        return seconds

    @contextlib.contextmanager
    def sampled(self, usage: ProcessUsage) -> Iterator[None]:
        start = self._cpu()
        try:
            yield
        finally:
            end = self._cpu()
            usage.cpu_seconds["postgresql"] = sum(
                cpu - start.get(pid, 0.0) for pid, cpu in end.items()
            )


@contextlib.contextmanager
def _profiled(pids: dict[str, int], replicas: int, seconds: float) -> Iterator[None]:
    """py-spy on every Python process for ``seconds`` when ``BENCH_FLEET_PROFILE`` names a
    folder (collapsed stacks, one file per process); nothing otherwise."""
    folder = os.environ.get(PROFILE_VARIABLE)
    if not folder:
        yield
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    recorders = [
        subprocess.Popen(
            [
                str(spy),
                "record",
                "--nonblocking",
                "--format",
                "raw",
                "--rate",
                str(PROFILE_RATE),
                "--duration",
                str(max(1, int(seconds))),
                "--pid",
                str(pid),
                "--output",
                f"{folder}/{replicas}-{name}.txt",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
        if name != "broker"
    ]
    try:
        yield
    finally:
        for recorder in recorders:
            try:
                recorder.wait(timeout=30)
            except subprocess.TimeoutExpired:
                recorder.kill()


async def _first_document(http: httpx.AsyncClient, running: Stack) -> float | None:
    calls = await sandbox_calls(http, running, "/")
    documents = [c.at for c in calls if _document_call(c)]
    return min(documents) if documents else None


def _document_call(call: Call) -> bool:
    """A created sales entry (Exact) or voucher (Lexware): one per document."""
    if call.method != "POST" or call.status >= 300:
        return False
    if call.path.startswith(EXACT_API):
        return "SalesEntries" in call.path
    return call.path.startswith(LEXWARE_API) and "/contacts" not in call.path


def _tenant(call: Call) -> str:
    """The division (Exact: in the path) or the organisation's token (Lexware)."""
    if call.path.startswith(EXACT_API):
        return f"exact {call.path.split('/')[4]}"
    return f"lexware {call.caller}"


_ORDER = """
SELECT d.client_id, d.number, s.booking_number
FROM documents d JOIN document_syncs s ON s.document_id = d.id
WHERE d.number LIKE 'F-%' AND s.booking_number IS NOT NULL
ORDER BY d.client_id, d.number
"""


async def _order(database_url: str) -> tuple[int, int]:
    """How many booked documents were checked, and how many got a booking number below
    the one of the document queued before it (the systems number entries as they come)."""
    conn = await connect_db(database_url)
    try:
        rows = await conn.fetch(_ORDER)
    finally:
        await conn.close()
    by_client: defaultdict[str, list[int]] = defaultdict(list)
    for row in rows:
        digits = "".join(ch for ch in str(row["booking_number"]) if ch.isdigit())
        if digits:
            by_client[str(row["client_id"])].append(int(digits))
    out_of_order = sum(
        1 for numbers in by_client.values() for a, b in itertools.pairwise(numbers) if b < a
    )
    return sum(len(n) for n in by_client.values()), out_of_order


# Figures


def _figures(phase: Phase) -> list[Figure]:
    tag = f"{phase.replicas} replica{'s' if phase.replicas > 1 else ''}"
    documents = [c for c in phase.calls if _document_call(c)]
    start = min(c.at for c in documents)
    span = 60.0 * MINUTES
    inside = [c for c in documents if start <= c.at < start + span]
    rate = len(inside) / span
    share = rate / BUDGETS
    limited = sum(1 for c in phase.calls if c.status == 429)
    shares = _shares(inside, span)
    slowest = min(shares.values(), default=0.0)
    median = statistics.median(shares.values()) if shares else 0.0
    fairness = slowest / median if median else 0.0
    exact = sum(1 for c in inside if c.path.startswith(EXACT_API))
    cpu = _cores(phase.usage, phase.machine_busy)
    return [
        Figure(
            NAME,
            f"documents/s, {tag}",
            round(rate, 1),
            "doc/s",
            reference=f"budgets {BUDGETS:g}/s ({DIVISIONS} x 60/min + {ORGANISATIONS} x 2/s)",
            ratio=round(share, 3),
            target=f">= {TARGET}",
            passed=share >= TARGET,
            note=f"{exact} Exact and {len(inside) - exact} Lexware documents in "
            f"{span:.0f} s; {cpu}; {_cores_needed(phase.machine_busy, rate)}",
        ),
        _per_document(tag, phase),
        Figure(NAME, f"429s, {tag}", limited, target="0", passed=limited == 0),
        Figure(
            NAME,
            f"slowest company / median, {tag}",
            round(fairness, 3),
            reference=f"share of own budget: slowest {slowest:.2f}, median {median:.2f} "
            f"({len(shares)} companies)",
            target=f">= {FAIRNESS}",
            passed=fairness >= FAIRNESS and len(shares) == DIVISIONS + ORGANISATIONS,
            note=_shares_by_system(shares),
        ),
        Figure(
            NAME,
            f"documents booked out of their order, {tag}",
            phase.out_of_order,
            reference=f"{phase.checked} booked documents checked",
            target="0",
            passed=phase.out_of_order == 0 and phase.checked > 0,
        ),
    ]


_NOT_PRODUCT = ("sandbox", "broker", "postgresql")


def _per_document(tag: str, phase: Phase) -> Figure:
    """CPU milliseconds per booked document of each process kind (replicas summed) over the
    sampled block, for the capacity model: a connector's per document of its own system,
    the others' per document of either. The API also relays the whole backlog in the
    block (it is queued at its start), so its figure is an upper bound."""
    kinds: defaultdict[str, float] = defaultdict(float)
    for name, seconds in phase.usage.cpu_seconds.items():
        kinds[name.split("-")[0]] += seconds
    booked = [c for c in phase.calls if _document_call(c) and c.at <= phase.sampled_until]
    exact = sum(1 for c in booked if c.path.startswith(EXACT_API))
    handled = {"exact": exact, "lexware": len(booked) - exact}
    per = {
        kind: 1000 * seconds / max(handled.get(kind, len(booked)), 1)
        for kind, seconds in kinds.items()
    }
    product = sum(s for kind, s in kinds.items() if kind not in _NOT_PRODUCT)
    listed = ", ".join(f"{kind} {ms:.1f}" for kind, ms in sorted(per.items()))
    return Figure(
        NAME,
        f"CPU per document (API + connectors), {tag}",
        round(1000 * product / max(len(booked), 1), 1),
        "ms",
        reference=f"{len(booked)} booked ({exact} Exact), {phase.relayed} relayed in "
        f"{phase.usage.wall_seconds:.0f} s",
        note=f"ms per booked document: {listed} (exact, lexware: per document of their "
        "system; sandbox, broker, PostgreSQL: not product); PostgreSQL sessions opened: "
        f"{phase.sessions} ({phase.sessions / max(len(booked), 1):.3f} per booked document)",
    )


def _shares(documents: list[Call], span: float) -> dict[str, float]:
    """Each company's documents in the span as a share of what its budget allows."""
    counts: defaultdict[str, int] = defaultdict(int)
    for call in documents:
        counts[_tenant(call)] += 1
    budget = {"exact": EXACT_PER_MINUTE * span / 60, "lexware": LEXWARE_PER_SECOND * span}
    return {tenant: n / budget[tenant.split()[0]] for tenant, n in counts.items()}


def _shares_by_system(shares: dict[str, float]) -> str:
    """Slowest, median and fastest share of each system's companies: whether the slow ones
    are one system's (the two connectors sharing the cores) or spread within one."""
    parts = []
    for system in ("exact", "lexware"):
        own = sorted(v for tenant, v in shares.items() if tenant.split()[0] == system)
        if own:
            parts.append(f"{system} {own[0]:.2f} / {statistics.median(own):.2f} / {own[-1]:.2f}")
    return "share of own budget, slowest / median / fastest: " + "; ".join(parts)


def _cores_needed(machine_busy: float, rate: float) -> str:
    """What the target would take at the cost this phase measured: the whole machine's CPU
    per document (every process and the kernel), times the documents/s the target asks."""
    if not rate:
        return "no document booked in the window"
    per_document = machine_busy / rate
    return (
        f"{per_document * 1000:.1f} ms of the machine's CPU per document: "
        f"{TARGET} x {BUDGETS:g}/s would need {per_document * TARGET * BUDGETS:.1f} cores"
    )


def _cores(usage: ProcessUsage, machine_busy: float) -> str:
    used = {name: usage.cores(name) for name in usage.cpu_seconds}
    busy = ", ".join(f"{name} {cores:.2f}" for name, cores in sorted(used.items()) if cores > 0.02)
    cores = psutil.cpu_count() or 1
    return (
        f"cores used: {busy} (services {sum(used.values()):.2f}; "
        f"machine {machine_busy:.2f} of {cores}, PostgreSQL and broker included)"
    )
