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

import base64
import os
from typing import Any

import httpx

from bench.common import (
    Figure,
    Options,
    clear_sandbox_calls,
    count_sync_states,
    fresh_database,
    german_document,
    lexware_client,
    new_partner,
    progress,
    sandbox_calls,
    stack,
    wait_until,
    wheel_broker,
)

NAME = "lexware_purchases"
BUDGET_SECONDS = 150
RATE = 2.0
MIB = 1024 * 1024
API = "/lexware/v1/"


def _pdf(size: int) -> bytes:
    head, tail = b"%PDF-1.4\n%", b"\n%%EOF\n"
    return head + os.urandom(size - len(head) - len(tail)) + tail


def _bill(client_id: str, number: str, content: bytes) -> dict[str, Any]:
    body = german_document(client_id, number, "lieferant-1")
    body["supplier"] = body.pop("customer")
    body["file"] = {
        "filename": f"{number}.pdf",
        "content_type": "application/pdf",
        "content_base64": base64.b64encode(content).decode(),
    }
    return body


async def _post(http: httpx.AsyncClient, bodies: list[dict[str, Any]]) -> None:
    for body in bodies:
        response = await http.post("/v1/purchase-invoices", json=body)
        response.raise_for_status()


async def run(options: Options) -> list[Figure]:
    count = int(options.pick(30, 8))
    log_dir = options.log_dir / NAME
    async with fresh_database() as database_url, wheel_broker(log_dir) as bootstrap:
        with stack(
            database_url,
            bootstrap,
            log_dir,
            connectors=("lexware",),
            sandbox={"lexware_requests_per_second": str(RATE)},
        ) as running:
            partner = new_partner(running)
            client_id = lexware_client(running, partner, "Einkauf Bench GmbH")
            key = str(partner.headers["Authorization"])
            async with (
                httpx.AsyncClient(
                    base_url=running.api_url, headers={"Authorization": key}, timeout=60
                ) as api,
                httpx.AsyncClient(timeout=30) as http,
            ):
                await _post(api, [_bill(client_id, "W-1", _pdf(64 * 1024))])
                await wait_until(lambda: _booked(database_url, 1), within=60, what="warm-up")
                await clear_sandbox_calls(http, running)
                progress(NAME, f"{count} bills of 1 MiB")
                await _post(api, [_bill(client_id, f"B-{n}", _pdf(MIB)) for n in range(count)])
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
