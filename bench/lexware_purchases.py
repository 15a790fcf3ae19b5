"""Lexware purchase documents: calls per purchase document with a known supplier, and the
upload throughput of 1 MB files, against the sandbox at Lexware's 2 requests per second.

A warm-up bill links the supplier and reads the posting categories; then a backlog of
purchase invoices, each with a 1 MiB PDF, goes through the API. Counted on the sandbox
side: each document should cost its voucher and its upload (2 calls), so at 2 requests
per second the pace allows one document, 1 MiB, a second.
Figures: calls per purchase document (known supplier), MiB/s uploaded, its share of the
pace's bound, 429s (0).
"""

from __future__ import annotations

from typing import Any

import httpx

from bench.common import (
    Figure,
    Options,
    api_key,
    bench_stack,
    clear_sandbox_calls,
    count_sync_states,
    german_document,
    lexware_client,
    new_partner,
    progress,
    purchase_of,
    random_pdf,
    sandbox_calls,
    wait_until,
)

NAME = "lexware_purchases"
BUDGET_SECONDS = 150
RATE = 2.0
MIB = 1024 * 1024
API = "/lexware/v1/"


def _bill(client_id: str, number: str, content: bytes) -> dict[str, Any]:
    return purchase_of(german_document(client_id, number, "lieferant-1"), content)


async def _post(http: httpx.AsyncClient, bodies: list[dict[str, Any]]) -> None:
    for body in bodies:
        response = await http.post("/v1/purchase-invoices", json=body)
        response.raise_for_status()


async def run(options: Options) -> list[Figure]:
    count = int(options.pick(30, 8))
    async with bench_stack(
        NAME, options, connectors=("lexware",), sandbox={"lexware_requests_per_second": str(RATE)}
    ) as (database_url, running):
        partner = new_partner(running)
        client_id = lexware_client(running, partner, "Einkauf Bench GmbH")
        async with (
            httpx.AsyncClient(
                base_url=running.api_url, headers={"Authorization": api_key(partner)}, timeout=60
            ) as api,
            httpx.AsyncClient(timeout=30) as http,
        ):
            await _post(api, [_bill(client_id, "W-1", random_pdf(64 * 1024))])
            await wait_until(lambda: _booked(database_url, 1), within=60, what="warm-up")
            await clear_sandbox_calls(http, running)
            progress(NAME, f"{count} bills of 1 MiB")
            await _post(api, [_bill(client_id, f"B-{n}", random_pdf(MIB)) for n in range(count)])
            await wait_until(
                lambda: _booked(database_url, count + 1),
                within=count * 3 + 30,
                what="bills booked",
            )
            calls = await sandbox_calls(http, running, API)
        partner.close()
    uploads = [c for c in calls if c.method == "POST" and c.path.endswith("/files")]
    vouchers = [c for c in calls if c.method == "POST" and c.path.endswith("/v1/vouchers")]
    limited = sum(1 for c in calls if c.status == 429)
    span = max(c.at for c in uploads) - min(c.at for c in vouchers)
    mib_per_second = len(uploads) / span if span > 0 else float("inf")
    bound = RATE / 2  # two calls a document: one document, 1 MiB, a second
    return [
        Figure(
            NAME,
            "calls per purchase document (known supplier)",
            round(len(calls) / count, 3),
            reference=f"{len(calls)} calls / {count} bills",
        ),
        Figure(
            NAME,
            "upload throughput, 1 MiB files",
            round(mib_per_second, 3),
            "MiB/s",
            reference=f"{len(uploads)} MiB in {span:.1f} s; pace bound {bound:.1f} MiB/s",
            ratio=round(mib_per_second / bound, 3),
        ),
        Figure(NAME, "429s", limited, target="0", passed=limited == 0),
    ]


async def _booked(database_url: str, n: int) -> bool:
    return await count_sync_states(database_url, ("booked",)) >= n
