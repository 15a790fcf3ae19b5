"""Exact, divisions side by side: three clients whose documents share one partition, each
with its own division at Exact's real 60 calls per minute, and a backlog queued client by
client (as a nightly run publishes it) in which the first client has more documents than
its division's minute allows.

A connector that works a partition one document at a time spends the first division's
minute, then waits for its reset with every other division's documents behind it (60 of
the 150 documents the three budgets allow in that minute). Working clients side by side,
each in order, only the first division waits. Figure: documents pushed in the first
minute against what the three budgets allow (target >= 95 %), and 429s (0).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import httpx
from aiokafka.partitioner import DefaultPartitioner

from bench.common import (
    Figure,
    Options,
    clear_sandbox_calls,
    connect_exact,
    document_body,
    new_client,
    new_exact_division,
    new_partner,
    outbox_drained,
    paused,
    post_documents,
    sandbox_calls,
    wait_until,
)
from bench.exact_budget import API, MINUTELY, exact_at_real_limits, warm_up
from tests.support.processes import Stack

NAME = "exact_divisions"
BUDGET_SECONDS = 150
PARTITIONS = 4  # as wheel_broker creates the topics
BACKLOGS = (90, 45, 45)  # per client, in the order they are queued


def partition_of(client_id: str) -> int:
    """Where the relay's producer puts a client's events (keyed by client id)."""
    partitions = list(range(PARTITIONS))
    return int(DefaultPartitioner()(client_id.encode(), partitions, partitions))


def clients_on_one_partition(partner: httpx.Client, n: int) -> list[str]:
    """New clients until ``n`` of them share a partition (client ids are random)."""
    by_partition: defaultdict[int, list[str]] = defaultdict(list)
    for k in range(100):
        client_id = new_client(partner, f"Division Bench {k}")
        same = by_partition[partition_of(client_id)]
        same.append(client_id)
        if len(same) == n:
            return same
    raise RuntimeError("no partition got enough clients")


async def run(options: Options) -> list[Figure]:
    async with exact_at_real_limits(options.log_dir / NAME) as (database_url, running):
        partner = new_partner(running)
        clients = clients_on_one_partition(partner, len(BACKLOGS))
        for client_id in clients:
            connect_exact(partner, client_id, new_exact_division(running))
        key = str(partner.headers["Authorization"])
        warmup = [document_body(c, "W-0", customer="k0") for c in clients]
        await warm_up(running, database_url, key, warmup)
        calls = await _first_minute(running, database_url, key, clients)
        partner.close()
    return _figures(calls)


async def _first_minute(
    running: Stack, database_url: str, key: str, clients: list[str]
) -> list[tuple[float, int]]:
    async with httpx.AsyncClient(timeout=30) as http:
        await http.put(
            f"{running.sandbox_url}/_sandbox/exact/limits", json={"reset_counters": True}
        )
        await clear_sandbox_calls(http, running)
        with paused(running, ("exact",)):  # the whole backlog is queued before work starts
            for client_id, backlog in zip(clients, BACKLOGS, strict=True):
                bodies = [document_body(client_id, f"B-{n}", customer="k0") for n in range(backlog)]
                await post_documents(running.api_url, key, bodies)
            await wait_until(lambda: outbox_drained(database_url), within=30, what="relayed")
        started = time.time()
        while time.time() < started + MINUTELY + 15:
            calls = await sandbox_calls(http, running, API)
            if calls and time.time() > min(c.at for c in calls) + MINUTELY + 2:
                break
            await asyncio.sleep(1)
        return [(c.at, c.status) for c in await sandbox_calls(http, running, API)]


def _figures(calls: list[tuple[float, int]]) -> list[Figure]:
    allowed = sum(min(MINUTELY, backlog) for backlog in BACKLOGS)
    first = min((at for at, _ in calls), default=0.0)
    in_minute = sum(1 for at, status in calls if at < first + MINUTELY and status < 300)
    limited = sum(1 for _, status in calls if status == 429)
    share = in_minute / allowed
    return [
        Figure(
            NAME,
            f"pushed in the first minute, {len(BACKLOGS)} divisions on one partition",
            in_minute,
            "calls",
            reference=f"{allowed} allowed (backlogs {'/'.join(map(str, BACKLOGS))}, "
            f"{MINUTELY}/min each)",
            ratio=round(share, 3),
            target=">= 0.95",
            passed=share >= 0.95,
        ),
        Figure(NAME, "429s", limited, target="0", passed=limited == 0),
    ]
