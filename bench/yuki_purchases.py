"""Yuki purchase documents: SOAP calls per purchase document (known supplier) and upload
throughput for 1 MB files, through the real processes (issue 24).

A first purchase invoice opens the session and reads the archive's folders; then the
calls are counted from the sandbox's side (every POST to /yuki/ws/) while N purchase
invoices, each with a 1 MB PDF from the same supplier, are posted through the API and
uploaded into the administration's archive (Archive.asmx UploadDocumentWithData).
Figures: SOAP calls per purchase document (target <= 1.1: one upload each), uploads/second
and MB/second from the first post to the last file in the archive.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from bench.common import (
    Figure,
    Options,
    Sampler,
    bench_stack,
    clear_sandbox_calls,
    document_body,
    new_partner,
    progress,
    purchase_of,
    random_pdf,
    rss_figures,
    sandbox_calls,
    wait_until,
    yuki_client,
)

NAME = "yuki_purchases"
BUDGET_SECONDS = 120
FILE_BYTES = 1024 * 1024


def purchase_body(client_id: str, number: str, pdf: bytes) -> dict[str, Any]:
    return purchase_of(document_body(client_id, number, customer="supplier-bench"), pdf)


async def run(options: Options) -> list[Figure]:
    documents = int(options.pick(60, 20))
    async with bench_stack(NAME, options, connectors=("yuki",)) as (_, running):
        partner = new_partner(running)
        client_id, administration = yuki_client(running, partner, "Yuki Purchases BV")
        control = f"{running.sandbox_url}/_sandbox/yuki/administrations/{administration}"
        async with httpx.AsyncClient(
            base_url=running.api_url,
            headers={"Authorization": str(partner.headers["Authorization"])},
            timeout=60,
        ) as api:

            async def archived(count: int) -> bool:
                state = (await api.get(control)).json()
                return len(state["archive"]) >= count

            progress(NAME, "warm-up document (session, folders)")
            warm = await api.post(
                "/v1/purchase-invoices", json=purchase_body(client_id, "W-0", b"%PDF-1.4\n")
            )
            warm.raise_for_status()
            await wait_until(lambda: archived(1), within=30, what="warm-up uploaded")
            await clear_sandbox_calls(api, running)
            bodies = [
                purchase_body(client_id, f"P-{n}", random_pdf(FILE_BYTES)) for n in range(documents)
            ]
            progress(NAME, f"{documents} purchase invoices of 1 MB")
            sampler = Sampler.of(running)
            with sampler.loaded():
                started = time.monotonic()
                queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
                for body in bodies:
                    queue.put_nowait(body)

                async def poster() -> None:
                    while not queue.empty():
                        answer = await api.post("/v1/purchase-invoices", json=queue.get_nowait())
                        answer.raise_for_status()

                await asyncio.gather(*(poster() for _ in range(4)))
                await wait_until(
                    lambda: archived(documents + 1),
                    within=90,
                    interval=0.1,
                    what="files uploaded",
                )
                done = time.monotonic()
            calls = await sandbox_calls(api, running, "/yuki/ws/")
        partner.close()
    soap = [c for c in calls if c.method == "POST"]
    by_path: dict[str, int] = {}
    for call in soap:
        by_path[call.path] = by_path.get(call.path, 0) + 1
    per_document = len(soap) / documents
    seconds = done - started
    return [
        Figure(
            NAME,
            "SOAP calls per purchase document (known supplier)",
            round(per_document, 2),
            reference=", ".join(f"{p}: {n}" for p, n in sorted(by_path.items())),
            target="<= 1.1",
            passed=per_document <= 1.1,
        ),
        Figure(
            NAME,
            f"1 MB uploads/second ({documents} documents, post to archive)",
            round(documents / seconds, 2),
            "doc/s",
            reference=f"{seconds:.1f} s",
        ),
        Figure(
            NAME,
            "upload throughput (1 MB files)",
            round(documents * FILE_BYTES / seconds / 2**20, 2),
            "MB/s",
        ),
        *rss_figures(NAME, sampler.usage, ("yuki",)),
    ]
