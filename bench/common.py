"""What every benchmark shares: figures, a fresh database, the wheel broker, the real
processes (with a sandbox that logs each call it answers), partners and integrations set
up as a partner would, percentiles, and RSS/CPU sampling of the service processes."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from pydantic import SecretStr

from invoicesync_api.migrate import upgrade
from invoicesync_devstack import broker, postgres
from invoicesync_devstack.ports import free_port
from invoicesync_shared.bus.admin import ensure_topics
from invoicesync_shared.crypto import generate_key
from tests.e2e.conftest import connect_exact, document_body, new_exact_division
from tests.support.processes import CONNECTORS, Stack, stack_env, wait_healthy

RESULTS = Path(__file__).resolve().parent / "results"
SANDBOX_COMMAND = [sys.executable, "-m", "bench.counting_sandbox"]
SERVICES = ("api", "exact", "lexware", "yuki", "sandbox")
DATABASE_PREFIX = "invoicesync_bench_"
RUN_VARIABLE = "BENCH_RUN"  # set by the runner: a benchmark's databases are named after it

__all__ = ["connect_exact", "document_body", "new_exact_division"]


@dataclass
class Figure:
    """One row of the table: a measured value beside its reference or target."""

    benchmark: str
    name: str
    value: float | None
    unit: str = ""
    reference: str = ""  # the side-by-side reference value, or the target
    ratio: float | None = None  # value / reference where both are measured
    target: str = ""  # e.g. ">= 0.5"
    passed: bool | None = None  # None: reported only
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Options:
    quick: bool
    log_dir: Path

    def pick(self, full: float, quick: float) -> float:
        return quick if self.quick else full


_STARTED = time.monotonic()


def progress(benchmark: str, step: str) -> None:
    """One line of progress, so a slow phase shows where the time goes."""
    print(f"    [{time.monotonic() - _STARTED:6.1f} s] {benchmark}: {step}", flush=True)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank on sorted values; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


# PostgreSQL and the broker


async def admin_url() -> str:
    """BENCH_POSTGRES_URL if set (a server of the bench's own, say when other work fills
    the machine's connection slots), else the machine's PostgreSQL when it answers on
    127.0.0.1:5432, else the embedded one."""
    if own := os.environ.get("BENCH_POSTGRES_URL"):
        return own
    if await postgres.server_answers(postgres.LOCAL_SERVER):
        return postgres.LOCAL_SERVER
    server = await asyncio.to_thread(
        postgres.embedded_server, Path(f"/tmp/isync-bench-{os.getuid()}")
    )
    return str(server.get_uri())


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A database of its own, migrated to head, dropped at the end."""
    root = await admin_url()
    name = f"{DATABASE_PREFIX}{os.environ.get(RUN_VARIABLE, 'x')}_{uuid.uuid4().hex[:8]}"
    url = await postgres.create_database(root, name)
    try:
        await asyncio.to_thread(upgrade, SecretStr(url))
        yield url
    finally:
        await postgres.drop_database(root, name)


@contextlib.asynccontextmanager
async def wheel_broker(log_dir: Path, partitions: int = 4) -> AsyncIterator[str]:
    """The tansu broker from the wheel on a free port, with our topics."""
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (once, before the broker)
    process = broker.start_broker(port, log_dir / "broker.log")
    bootstrap = f"127.0.0.1:{port}"
    try:
        await ensure_topics(bootstrap, partitions=partitions)
        yield bootstrap
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


async def connect_db(url: str) -> asyncpg.Connection:
    """An asyncpg connection for reading results (TCP or the embedded unix socket)."""
    return await asyncpg.connect(url)


# The real processes


@dataclass
class StackSpec:
    """One stack of real processes: sandbox (logging its calls), API (with its outbox relay
    and result consumer) and connector replicas; ``connectors`` repeats a system for more
    replicas (``("exact", "exact")``); ``sandbox`` holds SandboxSettings fields by name
    (``exact_minutely_limit``: ``"60"``); ``follow_sandbox_clock``: every service's date
    decisions follow the sandbox's clock (``POST /_sandbox/clock/advance`` moves it);
    ``more_apis``: more API processes by name, each with the environment it adds (its own
    ``INVOICESYNC_API_PORT`` and ``INVOICESYNC_API_METRICS_PORT`` at least), started and
    waited for (their workers too) with the first."""

    database_url: str
    bootstrap: str
    log_dir: Path
    connectors: tuple[str, ...] = ()
    sandbox: dict[str, str] | None = None
    env: dict[str, str] | None = None
    follow_sandbox_clock: bool = False
    more_apis: dict[str, dict[str, str]] | None = None


def _api_url(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['INVOICESYNC_API_PORT']}"


def _launch(spec: StackSpec) -> tuple[Stack, list[tuple[str, str]]]:
    """Start every process of ``spec`` at once; returns the stack and what to wait for."""
    extra = {
        "INVOICESYNC_LOG_LEVEL": "warning",
        **{f"INVOICESYNC_SANDBOX_{k.upper()}": v for k, v in (spec.sandbox or {}).items()},
        **(spec.env or {}),
    }
    env = stack_env(
        database_url=spec.database_url,
        bootstrap=spec.bootstrap,
        encryption_key=generate_key(),
        extra_env=extra,
        follow_sandbox_clock=spec.follow_sandbox_clock,
    )
    spec.log_dir.mkdir(parents=True, exist_ok=True)
    running = Stack(env=env, log_dir=spec.log_dir)
    waits = [("sandbox", f"{running.sandbox_url}/healthz"), ("api", f"{running.api_url}/healthz")]
    running.launch("sandbox", SANDBOX_COMMAND)
    running.launch("api", "invoicesync-api")
    for name, api_env in (spec.more_apis or {}).items():
        running.launch(name, "invoicesync-api", env=api_env)
        waits.append((name, f"{_api_url(api_env)}/healthz"))
    replicas: dict[str, int] = {}
    for system in spec.connectors:
        replicas[system] = replicas.get(system, 0) + 1
        variable = f"INVOICESYNC_CONNECTOR_{system.upper()}_PORT"
        if replicas[system] == 1:  # the one the API asks (INVOICESYNC_CONNECTOR_*_URL)
            name, port = system, env[variable]
        else:
            name, port = f"{system}-{replicas[system]}", str(free_port())
        running.launch(name, CONNECTORS[system], env={variable: port})
        waits.append((name, f"http://127.0.0.1:{port}/readyz"))
    return running, waits


def _api_workers_running(running: Stack, timeout: float, *, api_url: str | None = None) -> None:
    """Until the API's outbox relay and result consumer run: the broker is ``up`` on its
    /healthz/dependencies (its /readyz says only whether the database answers); ``api_url``
    for another API process of the stack than its first."""
    deadline = time.monotonic() + timeout
    url = f"{api_url or running.api_url}/healthz/dependencies"
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            if httpx.get(url, timeout=3).json()["broker"] == "up":
                return
        time.sleep(0.1)
    raise Stalled(f"API workers not running after {timeout:.0f} s")


@contextlib.contextmanager
def stacks(*specs: StackSpec, timeout: float = 90) -> Iterator[list[Stack]]:
    """All processes of all ``specs`` started at once (the broker's ~15 s consumer-group
    join then overlaps), ready when each answers; SIGKILLed at the end (nothing to keep)."""
    launched: list[Stack] = []
    try:
        waits: list[tuple[Stack, str, str]] = []
        for spec in specs:
            running, urls = _launch(spec)
            launched.append(running)
            waits += [(running, name, url) for name, url in urls]
        for running, name, url in waits:
            log = running.log_dir / f"{name}.log"
            wait_healthy(url, running.processes[name], log, timeout)
        for running, spec in zip(launched, specs, strict=True):
            _api_workers_running(running, timeout)
            for api_env in (spec.more_apis or {}).values():
                _api_workers_running(running, timeout, api_url=_api_url(api_env))
        yield launched
    finally:
        for running in launched:
            for name in list(running.processes):
                with contextlib.suppress(Exception):
                    running.kill(name)


@contextlib.contextmanager
def stack(
    database_url: str,
    bootstrap: str,
    log_dir: Path,
    *,
    connectors: tuple[str, ...],
    sandbox: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    follow_sandbox_clock: bool = False,
    more_apis: dict[str, dict[str, str]] | None = None,
) -> Iterator[Stack]:
    """One stack (see ``StackSpec``), its processes started at once."""
    spec = StackSpec(
        database_url, bootstrap, log_dir, connectors, sandbox, env, follow_sandbox_clock, more_apis
    )
    with stacks(spec) as (running,):
        yield running


@contextlib.asynccontextmanager
async def bench_stack(
    name: str,
    options: Options,
    *,
    connectors: tuple[str, ...],
    sandbox: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[tuple[str, Stack]]:
    """A fresh database, the wheel broker and one stack for benchmark ``name``, its logs
    in the run's folder of that name: (database URL, stack), all gone at the end."""
    log_dir = options.log_dir / name
    async with fresh_database() as database_url, wheel_broker(log_dir) as bootstrap:
        with stack(
            database_url, bootstrap, log_dir, connectors=connectors, sandbox=sandbox, env=env
        ) as running:
            yield database_url, running


@contextlib.contextmanager
def paused(running: Stack, names: tuple[str, ...], *, limit: float = 20.0) -> Iterator[None]:
    """SIGSTOP ``names`` for the block, SIGCONT after: a connector frozen in its consumer
    group while a backlog builds up, without leaving and rejoining the group (the wheel
    broker takes about a minute to hand a rejoining consumer its partitions). The pause
    must stay well inside the consumers' 30 s session timeout; Stalled if it did not."""
    processes = [running.processes[name] for name in names]
    for process in processes:
        process.send_signal(signal.SIGSTOP)
    started = time.monotonic()
    try:
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGCONT)
    if time.monotonic() - started > limit:
        raise Stalled(f"{', '.join(names)} paused {time.monotonic() - started:.0f} s > {limit} s")


def start_connector(running: Stack, system: str, name: str | None = None) -> str:
    """Start one more replica of a connector (its own control port); returns its name."""
    name = name or system
    port = free_port()
    running.start(
        name,
        CONNECTORS[system],
        f"http://127.0.0.1:{port}/readyz",
        env={f"INVOICESYNC_CONNECTOR_{system.upper()}_PORT": str(port)},
    )
    return name


def stop(running: Stack, name: str) -> None:
    """Stop one process gracefully (SIGTERM), as a deployment would."""
    running.kill(name, signal.SIGTERM)


@dataclass
class Call:
    at: float
    method: str
    path: str
    status: int
    caller: str = ""  # a digest of the Authorization header (the tenant's token)


async def sandbox_calls(http: httpx.AsyncClient, running: Stack, prefix: str) -> list[Call]:
    """Calls the sandbox answered whose path starts with ``prefix`` (sandbox side)."""
    rows = (await http.get(f"{running.sandbox_url}/_bench/calls")).json()
    return [Call(*row) for row in rows if row[2].startswith(prefix)]


async def clear_sandbox_calls(http: httpx.AsyncClient, running: Stack) -> None:
    await http.delete(f"{running.sandbox_url}/_bench/calls")


# A partner and its integrations, as in the e2e tests


def new_partner(running: Stack) -> httpx.Client:
    created = httpx.post(
        f"{running.api_url}/admin/v1/partners",
        json={"name": f"Bench {uuid.uuid4().hex[:6]}"},
        headers={"Authorization": f"Bearer {running.admin_token}"},
        timeout=30,
    )
    created.raise_for_status()
    return httpx.Client(
        base_url=running.api_url,
        timeout=60,
        headers={"Authorization": f"Bearer {created.json()['api_key']}"},
    )


def api_key(partner: httpx.Client) -> str:
    return str(partner.headers["Authorization"])


def new_client(partner: httpx.Client, name: str = "Bench BV", country: str = "NL") -> str:
    created = partner.post("/v1/clients", json={"name": name, "country": country})
    created.raise_for_status()
    return str(created.json()["id"])


def exact_client(running: Stack, partner: httpx.Client, name: str) -> str:
    """A client with an active Exact integration on a new division."""
    client_id = new_client(partner, name)
    connect_exact(partner, client_id, new_exact_division(running))
    return client_id


def lexware_client(
    running: Stack, partner: httpx.Client, name: str, *, own_organisation: bool = False
) -> str:
    """A German client (Lexware needs its address) with an active Lexware integration;
    connected to the sandbox's demo organisation, or to a new one of its own (its own
    rate budget) with ``own_organisation``."""
    created = partner.post(
        "/v1/clients",
        json={
            "name": name,
            "country": "DE",
            "vat_number": "DE123456789",
            "address": {
                "street": "Hafenstraße",
                "house_number": "4",
                "postal_code": "20457",
                "city": "Hamburg",
                "country": "DE",
            },
        },
    )
    created.raise_for_status()
    client_id = str(created.json()["id"])
    created = partner.post(f"/v1/clients/{client_id}/integrations", json={"system": "lexware"})
    created.raise_for_status()
    authorize = httpx.URL(created.json()["authorize_url"])
    if own_organisation:
        org = httpx.post(
            f"{running.sandbox_url}/_sandbox/lexware/organizations",
            json={"company_name": name},
            timeout=30,
        )
        org.raise_for_status()
        authorize = authorize.copy_merge_params({"organization_id": org.json()["organization_id"]})
    consent = httpx.get(authorize, follow_redirects=True, timeout=60)
    consent.raise_for_status()
    status = partner.get(f"/v1/integrations/{created.json()['id']}").json()["status"]
    if status != "active":
        raise RuntimeError(f"Lexware integration is {status}")
    return client_id


def yuki_client(running: Stack, partner: httpx.Client, name: str) -> tuple[str, str]:
    """A client with an active Yuki integration; returns (client id, administration id)."""
    client_id = new_client(partner, name)
    admin = httpx.post(f"{running.sandbox_url}/_sandbox/yuki/administrations", json={}).json()
    created = partner.post(
        f"/v1/clients/{client_id}/integrations",
        json={
            "system": "yuki",
            "settings": {
                "access_key": admin["access_key"],
                "administration_id": admin["administration_id"],
            },
        },
    )
    created.raise_for_status()
    return client_id, str(admin["administration_id"])


def german_document(client_id: str, number: str, customer: str) -> dict[str, Any]:
    """An invoice Lexware accepts (19 % VAT, a German customer with an address)."""
    body = document_body(client_id, number, customer=customer)
    body["customer"] = {
        "external_id": customer,
        "name": f"Kunde {customer}",
        "country": "DE",
        "address": {
            "street": "Marktplatz",
            "house_number": "1",
            "postal_code": "20095",
            "city": "Hamburg",
            "country": "DE",
        },
    }
    body["lines"][0]["vat_rate"] = "19"
    return body


def random_pdf(size: int) -> bytes:
    """``size`` bytes framed as a PDF, random inside so nothing on the way compresses the
    upload away."""
    head, tail = b"%PDF-1.4\n", b"\n%%EOF\n"
    return head + os.urandom(size - len(head) - len(tail)) + tail


def purchase_of(body: dict[str, Any], pdf: bytes) -> dict[str, Any]:
    """A sales document ``body`` turned purchase: its customer as the supplier, ``pdf``
    attached as its original file."""
    body["supplier"] = body.pop("customer")
    body["file"] = {
        "filename": f"{body['number']}.pdf",
        "content_type": "application/pdf",
        "content_base64": base64.b64encode(pdf).decode(),
    }
    return body


async def post_documents(
    api_url: str,
    key: str,
    bodies: list[dict[str, Any]],
    concurrency: int = 8,
    within: float | None = None,
) -> list[str]:
    """POST every body to /v1/invoices (none started after ``within`` s); returns the
    document ids in order ("" for bodies not sent)."""
    ids: list[str] = [""] * len(bodies)
    stop_at = time.monotonic() + within if within is not None else float("inf")
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(bodies)):
        queue.put_nowait(index)
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": key}, timeout=60
    ) as http:

        async def worker() -> None:
            while not queue.empty() and time.monotonic() < stop_at:
                index = queue.get_nowait()
                response = await http.post("/v1/invoices", json=bodies[index])
                response.raise_for_status()
                ids[index] = response.json()["id"]

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ids


async def count_sync_states(database_url: str, statuses: tuple[str, ...]) -> int:
    conn = await connect_db(database_url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM document_syncs WHERE status = ANY($1::text[])",
                list(statuses),
            )
        )
    finally:
        await conn.close()


class Stalled(RuntimeError):
    """A benchmark waited too long for a condition (not the overall time bound)."""


async def wait_until(
    check: Callable[[], Any], *, within: float, interval: float = 0.25, what: str = "condition"
) -> Any:
    """Await ``check()`` until it returns something truthy; Stalled after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise Stalled(f"{what} not reached within {within:.0f} s")
        await asyncio.sleep(interval)


async def outbox_drained(database_url: str) -> bool:
    conn = await connect_db(database_url)
    try:
        return not await conn.fetchval(
            "SELECT count(*) FROM outbox_messages WHERE published_at IS NULL"
        )
    finally:
        await conn.close()


# Memory and CPU of the service processes


@dataclass
class ProcessUsage:
    rss_idle: dict[str, int] = field(default_factory=dict)
    rss_peak: dict[str, int] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0

    def cores(self, name: str) -> float:
        """Average cores used by ``name`` over the sampled phase."""
        return self.cpu_seconds.get(name, 0.0) / self.wall_seconds if self.wall_seconds else 0.0


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


class Sampler:
    """Idle RSS now; peak RSS and CPU seconds of each process while the block runs."""

    def __init__(self, processes: dict[str, int], interval: float = 0.25) -> None:
        self._procs = {name: psutil.Process(pid) for name, pid in processes.items()}
        self._interval = interval
        self.usage = ProcessUsage(
            rss_idle={n: p.memory_info().rss for n, p in self._procs.items()},
        )
        self._stop = threading.Event()

    @classmethod
    def of(cls, running: Stack, *, include_self: bool = False) -> Sampler:
        pids = {name: p.pid for name, p in running.processes.items()}
        if include_self:
            pids["load generator"] = os.getpid()
        return cls(pids)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            for name, proc in self._procs.items():
                with contextlib.suppress(psutil.Error):
                    rss = proc.memory_info().rss
                    self.usage.rss_peak[name] = max(self.usage.rss_peak.get(name, 0), rss)

    @contextlib.contextmanager
    def loaded(self) -> Iterator[ProcessUsage]:
        start_cpu = {n: _cpu(p) for n, p in self._procs.items()}
        started = time.monotonic()
        thread = threading.Thread(target=self._loop, daemon=True)
        thread.start()
        try:
            yield self.usage
        finally:
            self._stop.set()
            thread.join()
            self.usage.wall_seconds = time.monotonic() - started
            for name, proc in self._procs.items():
                with contextlib.suppress(psutil.Error):
                    self.usage.cpu_seconds[name] = _cpu(proc) - start_cpu[name]


def rss_figures(benchmark: str, usage: ProcessUsage, names: tuple[str, ...]) -> list[Figure]:
    """Idle and peak RSS (MiB) of each named service, with the cores it used under load."""
    figures = []
    for name in names:
        if name not in usage.rss_idle:
            continue
        figures.append(
            Figure(
                benchmark,
                f"RSS {name} idle / loaded",
                round(usage.rss_peak.get(name, usage.rss_idle[name]) / 2**20, 1),
                "MiB",
                reference=f"idle {usage.rss_idle[name] / 2**20:.1f} MiB",
                ratio=round(usage.rss_peak.get(name, 0) / usage.rss_idle[name], 2),
                note=f"{usage.cores(name):.2f} cores under load",
            )
        )
    return figures


async def post_backlog(
    running: Stack,
    database_url: str,
    key: str,
    bodies: list[dict[str, Any]],
    consumers: tuple[str, ...],
    *,
    within: float = 15.0,
) -> int:
    """Make a backlog the ``consumers`` (connector replicas) find all at once: they are
    frozen (``paused``) while the documents are accepted and the API's outbox relay
    publishes them, then let go. Posting stops after ``within`` s to keep the pause short;
    returns how many documents make the backlog."""
    with paused(running, consumers):
        ids = await post_documents(running.api_url, key, bodies, concurrency=16, within=within)
        await wait_until(lambda: outbox_drained(database_url), within=8, what="outbox relayed")
    return sum(1 for i in ids if i)
