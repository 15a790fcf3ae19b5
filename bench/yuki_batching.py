"""Yuki batching: documents per ProcessSalesInvoices call when the connector finds a
backlog, and documents per second, through the real processes.

The connector is frozen in its consumer group while the backlog is accepted and relayed
(``post_backlog``), so it finds the backlog all at once when let go.
Counted by the sandbox's own stats.
Figures: documents per SOAP call (>= 100), documents/second.
"""

from __future__ import annotations

import time

import httpx

from bench.common import (
    Figure,
    Options,
    Sampler,
    bench_stack,
    document_body,
    new_partner,
    post_backlog,
    rss_figures,
    wait_until,
    yuki_client,
)

NAME = "yuki_batching"
BUDGET_SECONDS = 80


async def run(options: Options) -> list[Figure]:
    documents = int(options.pick(1000, 300))
    async with bench_stack(NAME, options, connectors=("yuki",)) as (database_url, running):
        partner = new_partner(running)
        client_id, _ = yuki_client(running, partner, "Yuki Bench BV")
        key = str(partner.headers["Authorization"])
        bodies = [
            document_body(client_id, f"Y-{n}", customer=f"k{n % 20}") for n in range(documents)
        ]
        async with httpx.AsyncClient(timeout=30) as http:
            stats_url = f"{running.sandbox_url}/_sandbox/yuki/stats"
            await http.delete(stats_url)
            documents = await post_backlog(running, database_url, key, bodies, ("yuki",))
            # The relay published it in one go: measure from the first SOAP call.
            await wait_until(lambda: _any_call(http, stats_url), within=20, interval=0.05)
            ready = time.monotonic()
            sampler = Sampler.of(running)

            async def drained() -> bool:
                stats = (await http.get(stats_url)).json()
                return int(stats["invoices_total"]) >= documents

            with sampler.loaded():
                await wait_until(drained, within=40, interval=0.1, what="backlog drained")
            done = time.monotonic()
            stats = (await http.get(stats_url)).json()
        partner.close()
    per_call: list[int] = stats["invoices_per_call"]
    mean = sum(per_call) / len(per_call)
    return [
        Figure(
            NAME,
            "documents per SOAP call",
            round(mean, 1),
            reference=f"{stats['process_calls']} calls, max {max(per_call)}, min {min(per_call)}",
            target=">= 100",
            passed=mean >= 100,
            note="invoices per call, in order: " + " ".join(map(str, per_call)),
        ),
        Figure(
            NAME,
            f"documents/second ({documents} backlog)",
            round(documents / (done - ready), 1),
            "doc/s",
            reference=f"{done - ready:.1f} s from the first call",
        ),
        *rss_figures(NAME, sampler.usage, ("yuki",)),
    ]


async def _any_call(http: httpx.AsyncClient, stats_url: str) -> bool:
    return bool((await http.get(stats_url)).json()["process_calls"])
