"""Scale-out: Exact connector throughput with 1 and with 2 replicas on 4 partitions, on
the sandbox with no rate limit. Four clients (one division each) spread the documents
over the partitions.

The wheel broker needs about a minute to rebalance a group when a member joins or leaves
later, so the two configurations are two stacks (each its own broker, database, sandbox
and API), started together at the beginning: the 2 replicas join their group at once and
share the partitions from the start. Each phase freezes its replicas while a backlog is
accepted and relayed (``post_backlog``), lets them go, and counts on the sandbox side
(created sales entries per second between the 10th and 90th percentile of their times,
so start and tail are left out). The 1-replica stack is stopped before the 2-replica
phase. CPU use of each process in the phase tells why the ratio is what it is here.

With ``with_end_to_end`` the end_to_end benchmark runs first on the 1-replica stack."""

from __future__ import annotations

import contextlib

import httpx

from bench import end_to_end
from bench.common import (
    Figure,
    Options,
    ProcessUsage,
    Sampler,
    StackSpec,
    clear_sandbox_calls,
    count_sync_states,
    document_body,
    exact_client,
    fresh_database,
    new_partner,
    percentile,
    post_backlog,
    progress,
    sandbox_calls,
    stacks,
    wait_until,
    wheel_broker,
)
from bench.end_to_end import NO_LIMIT
from tests.support.processes import Stack

NAME = "scale_out"
BUDGET_SECONDS = 110
CLIENTS = 4


async def run(options: Options, *, with_end_to_end: bool = False) -> list[Figure]:
    documents = int(options.pick(400, 200))
    log_dir = options.log_dir / NAME
    figures: list[Figure] = []
    results: dict[int, tuple[float, ProcessUsage]] = {}
    async with contextlib.AsyncExitStack() as resources:
        one_db = await resources.enter_async_context(fresh_database())
        two_db = await resources.enter_async_context(fresh_database())
        one_bus = await resources.enter_async_context(wheel_broker(log_dir / "1-replica"))
        two_bus = await resources.enter_async_context(wheel_broker(log_dir / "2-replicas"))
        specs = (
            StackSpec(one_db, one_bus, log_dir / "1-replica", ("exact",), NO_LIMIT),
            StackSpec(two_db, two_bus, log_dir / "2-replicas", ("exact", "exact"), NO_LIMIT),
        )
        one, two = resources.enter_context(stacks(*specs))
        progress(NAME, "both stacks ready")
        setups = [(one, one_db, ("exact",)), (two, two_db, ("exact", "exact-2"))]
        for replicas, (running, database_url, consumers) in enumerate(setups, start=1):
            partner = new_partner(running)
            clients = [exact_client(running, partner, f"Scale {n} BV") for n in range(CLIENTS)]
            if replicas == 1 and with_end_to_end:
                figures += await end_to_end.measure(
                    options, running, database_url, partner, clients
                )
                progress(NAME, "end_to_end measured on the 1-replica stack")
            results[replicas] = await _phase(
                running, database_url, partner, clients, consumers, documents
            )
            progress(NAME, f"backlog drained with {replicas} replica(s)")
            partner.close()
            if replicas == 1:  # its idle processes stay out of the 2-replica phase
                for name in list(running.processes):
                    running.kill(name)
    one_rate, two_rate = results[1][0], results[2][0]
    ratio = two_rate / one_rate if one_rate else 0.0
    return [
        *figures,
        Figure(
            NAME,
            "throughput 1 → 2 replicas",
            round(two_rate, 1),
            "doc/s",
            reference=f"1 replica {one_rate:.1f} doc/s",
            ratio=round(ratio, 2),
            target=">= 1.7 if CPU allows",
            passed=None,
            note=f"1 replica: {_cores(results[1][1])}; 2 replicas: {_cores(results[2][1])}",
        ),
    ]


async def _phase(
    running: Stack,
    database_url: str,
    partner: httpx.Client,
    clients: list[str],
    consumers: tuple[str, ...],
    documents: int,
) -> tuple[float, ProcessUsage]:
    """Probes (every partition owned and warm), then a backlog drained by ``consumers``;
    returns created entries per second and the processes' CPU use."""
    key = str(partner.headers["Authorization"])
    tag = len(consumers)
    probes = [document_body(c, f"P{tag}-{n}", customer="k0") for n, c in enumerate(clients)]
    done = await count_sync_states(database_url, ("booked", "failed"))
    await post_backlog(running, database_url, key, probes, consumers)
    done += len(probes)
    await wait_until(lambda: _settled(database_url, done), within=30, what="probes booked")
    async with httpx.AsyncClient(timeout=30) as http:
        await clear_sandbox_calls(http, running)
        bodies = [
            document_body(clients[n % CLIENTS], f"S{tag}-{n}", customer="k0")
            for n in range(documents)
        ]
        sampler = Sampler.of(running)
        with sampler.loaded() as usage:
            done += await post_backlog(running, database_url, key, bodies, consumers)
            await wait_until(
                lambda: _settled(database_url, done), within=40, what=f"backlog, {tag} replica(s)"
            )
        calls = await sandbox_calls(http, running, "/exact/api/v1/")
    created = [c.at for c in calls if c.method == "POST" and "SalesEntries" in c.path]
    low, high = percentile(created, 10), percentile(created, 90)
    inside = sum(1 for t in created if low <= t <= high)
    return (inside / (high - low) if high > low else 0.0), usage


def _cores(usage: ProcessUsage) -> str:
    used = {name: usage.cores(name) for name in usage.cpu_seconds}
    busy = ", ".join(f"{name} {cores:.2f}" for name, cores in sorted(used.items()) if cores > 0.02)
    return f"cores used: {busy} (sum {sum(used.values()):.2f} of 2)"


async def _settled(database_url: str, n: int) -> bool:
    return await count_sync_states(database_url, ("booked", "failed")) >= n
