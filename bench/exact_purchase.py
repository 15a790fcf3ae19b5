"""Exact purchase documents: calls per purchase document with a known supplier, counted
on the sandbox's side (issue 24's proof). Each purchase invoice or receipt files its PDF
as an Exact document, attaches the file and posts the entry that points at it: three
calls once the supplier is linked and the division's lists are read (a warm-up document
does both).

Figure: calls per purchase document (target <= 3.05), 429s (0).
"""

from __future__ import annotations

import base64
from typing import Any

import httpx

from bench.common import (
    Figure,
    Options,
    clear_sandbox_calls,
    count_sync_states,
    exact_client,
    fresh_database,
    new_partner,
    sandbox_calls,
    stack,
    wait_until,
    wheel_broker,
)
from bench.exact_budget import API

NAME = "exact_purchase"
BUDGET_SECONDS = 120
PDF = b"%PDF-1.4\n" + b"0" * 20_000 + b"\n%%EOF\n"
SUPPLIER = {"external_id": "s-1", "name": "Bench Leverancier BV", "country": "NL"}
KINDS = ("/v1/purchase-invoices", "/v1/receipts")


def purchase_body(client_id: str, number: str) -> dict[str, Any]:
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
            "content_base64": base64.b64encode(PDF).decode(),
        },
    }


async def run(options: Options) -> list[Figure]:
    documents = int(options.pick(30, 6))
    log_dir = options.log_dir / NAME
    async with fresh_database() as database_url, wheel_broker(log_dir) as bootstrap:
        with stack(database_url, bootstrap, log_dir, connectors=("exact",)) as running:
            partner = new_partner(running)
            client_id = exact_client(running, partner, "Exact Purchase Bench BV")

            async def booked(count: int) -> bool:
                return await count_sync_states(database_url, ("booked",)) >= count

            async with httpx.AsyncClient(timeout=30) as http:
                warm = partner.post(KINDS[0], json=purchase_body(client_id, "W-1"))
                warm.raise_for_status()
                await wait_until(lambda: booked(1), within=60, what="warm-up booked")
                await clear_sandbox_calls(http, running)
                for n in range(documents):
                    posted = partner.post(KINDS[n % 2], json=purchase_body(client_id, f"P-{n}"))
                    posted.raise_for_status()
                await wait_until(
                    lambda: booked(documents + 1), within=90, what="purchase documents booked"
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
    kinds: dict[str, int] = {}
    for call in calls:
        endpoint = f"{call.method} {call.path.split('/', 5)[-1]}"
        kinds[endpoint] = kinds.get(endpoint, 0) + 1
    return [
        Figure(
            NAME,
            "calls per purchase document (known supplier, PDF attached)",
            round(per_doc, 3),
            reference=f"{len(calls)} calls / {entries} entries of {documents} documents",
            target="<= 3.05",
            passed=entries == documents and per_doc <= 3.05,
            note=", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())),
        ),
        Figure(NAME, "429s", limited, target="0", passed=limited == 0),
    ]
