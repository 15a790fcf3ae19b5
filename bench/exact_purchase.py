"""Exact purchase documents: calls per purchase document with a known supplier, counted
on the sandbox's side, and upload throughput for 1 MiB files (issue 24's proof). Each
purchase invoice or receipt files its PDF as an Exact document, attaches the file and
posts the entry that points at it: three calls once the supplier is linked and the
division's lists are read (a warm-up document does both).

Figures: calls per purchase document (target <= 3.05), MiB/s uploaded (from the first
Documents POST to the last DocumentAttachments POST), with the sustained bound Exact's 60
calls a minute set (three calls a document: 20 MiB a minute), 429s (0).
"""

from __future__ import annotations

import base64
from typing import Any

import httpx

from bench.common import (
    Figure,
    Options,
    bench_stack,
    clear_sandbox_calls,
    count_sync_states,
    exact_client,
    new_partner,
    random_pdf,
    sandbox_calls,
    wait_until,
)
from bench.exact_budget import API

NAME = "exact_purchase"
BUDGET_SECONDS = 120
MIB = 1024 * 1024
MINUTELY_LIMIT = 60  # the sandbox's default, as Exact's
CALLS_PER_DOCUMENT = 3
SUPPLIER = {"external_id": "s-1", "name": "Bench Leverancier BV", "country": "NL"}
KINDS = ("/v1/purchase-invoices", "/v1/receipts")


def purchase_body(client_id: str, number: str, pdf: bytes) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "external_id": f"ext-{number}",
        "number": number,
        "status": "booked",
        "issue_date": "2026-11-20",
        "currency": "EUR",
        "supplier": SUPPLIER,
        "lines": [
            {"description": "Paper", "quantity": "1", "unit_price": "40.00", "vat_rate": "21"}
        ],
        "file": {
            "filename": f"{number}.pdf",
            "content_type": "application/pdf",
            "content_base64": base64.b64encode(pdf).decode(),
        },
    }


async def run(options: Options) -> list[Figure]:
    # 15 documents (45 calls) and the warm-up fit one minute of Exact's 60 calls: the
    # figures are the path's, not a wait for the next minute (the note gives that bound).
    documents = int(options.pick(15, 6))
    async with bench_stack(NAME, options, connectors=("exact",)) as (database_url, running):
        partner = new_partner(running)
        client_id = exact_client(running, partner, "Exact Purchase Bench BV")

        async def booked(count: int) -> bool:
            return await count_sync_states(database_url, ("booked",)) >= count

        async with httpx.AsyncClient(timeout=30) as http:
            warm = partner.post(KINDS[0], json=purchase_body(client_id, "W-1", b"%PDF-1.4\n"))
            warm.raise_for_status()
            await wait_until(lambda: booked(1), within=60, what="warm-up booked")
            await clear_sandbox_calls(http, running)
            bodies = [purchase_body(client_id, f"P-{n}", random_pdf(MIB)) for n in range(documents)]
            for n, body in enumerate(bodies):
                posted = partner.post(KINDS[n % 2], json=body)
                posted.raise_for_status()
            await wait_until(
                lambda: booked(documents + 1),
                within=documents * 4 + 60,
                what="purchase documents booked",
            )
            calls = await sandbox_calls(http, running, API)
        partner.close()
    return _figures(calls, documents)


def _figures(calls: list[Any], documents: int) -> list[Figure]:
    entries = sum(
        1 for c in calls if c.method == "POST" and "PurchaseEntries" in c.path and c.status < 300
    )
    limited = sum(1 for c in calls if c.status == 429)
    per_doc = len(calls) / entries if entries else float("inf")
    files = [c for c in calls if c.method == "POST" and c.path.endswith("/Documents")]
    uploads = [
        c
        for c in calls
        if c.method == "POST" and c.path.endswith("/DocumentAttachments") and c.status < 300
    ]
    span = max(c.at for c in uploads) - min(c.at for c in files) if uploads and files else 0.0
    mib_per_second = len(uploads) / span if span > 0 else float("inf")
    bound = MINUTELY_LIMIT / CALLS_PER_DOCUMENT / 60  # one MiB a document
    kinds: dict[str, int] = {}
    for call in calls:
        endpoint = f"{call.method} {call.path.split('/', 5)[-1]}"
        kinds[endpoint] = kinds.get(endpoint, 0) + 1
    return [
        Figure(
            NAME,
            "calls per purchase document (known supplier, 1 MiB PDF attached)",
            round(per_doc, 3),
            reference=f"{len(calls)} calls / {entries} entries of {documents} documents",
            target="<= 3.05",
            passed=entries == documents and per_doc <= 3.05,
            note=", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())),
        ),
        Figure(
            NAME,
            "upload throughput, 1 MiB files",
            round(mib_per_second, 3),
            "MiB/s",
            reference=f"{len(uploads)} MiB in {span:.1f} s",
            note=(
                f"sustained bound under Exact's {MINUTELY_LIMIT} calls a minute: {bound:.2f} "
                "MiB/s; a burst within one minute's budget is faster"
            ),
        ),
        Figure(NAME, "429s", limited, target="0", passed=limited == 0),
    ]
