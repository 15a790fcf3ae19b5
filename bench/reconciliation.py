"""Reconciliation cost: calls a reconciliation uses per 1,000 documents, per system, read
through the real connectors from the sandbox, counted twice — by the connector (the
report's ``calls_used``) and by the sandbox's own call log — which must agree.

Each system's documents are booked through the normal path first (POST /v1/invoices →
connector → sandbox; the sandboxes' rate limits lifted for that part only by the
settings, since the booking is not what is measured), all dated in one November; then
one reconciliation of November runs per system, one system at a time, the sandbox's log
cleared before each. Read-backs and Lexware's poller are off, so nothing else calls the
sandbox meanwhile. A tenth of the Yuki invoices are paid in Yuki first: Yuki's cost
depends on it (a settled item is no longer among the open items, so it is looked up on
its own), while Exact and Lexware read payment state from the same pages.

Targets, from how each system is read (see each connector's ``reconciliation.py``):
- Exact: ``SalesEntries`` and ``Receivables`` pages of 60 rows → 2 ⌈n/60⌉ (34 for
  1,000), plus 2 for a token refresh or a last empty page.
- Lexware: ``voucherlist`` pages of 250 → ⌈n/250⌉ (4 for 1,000), plus 1 for a last page
  that says it is the last only when asked; no voucher opened (our ledger knows them all).
- Yuki: one ``OutstandingDebtorItems`` call, one ``CheckOutstandingItemAdmin`` per paid
  item, plus 2 for a session (``Authenticate``, ``SetCurrentDomain``) → 103 for 1,000.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench.common import (
    Figure,
    Options,
    Stalled,
    bench_stack,
    clear_sandbox_calls,
    count_sync_states,
    document_body,
    exact_client,
    german_document,
    lexware_client,
    new_partner,
    post_documents,
    progress,
    sandbox_calls,
    wait_until,
    yuki_client,
)
from tests.support.processes import Stack

NAME = "reconciliation"
# Full run on 2 cores, 2026-12-05: 79 s (3,000 documents booked in 51 s); on the same
# machine shared with other work (load 10) the booking alone took 175 s.
BUDGET_SECONDS = 240
PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}
CUSTOMERS = 20
PAID_SHARE = 0.1  # Yuki invoices paid in Yuki before the reconciliation
SANDBOX = {
    "exact_minutely_limit": "1000000",
    "exact_daily_limit": "100000000",
    "lexware_requests_per_second": "1000",
}
ENV = {
    "INVOICESYNC_LEXWARE_REQUESTS_PER_SECOND": "1000",
    "INVOICESYNC_LEXWARE_POLL_INTERVAL_SECONDS": "86400",
    "INVOICESYNC_LEXWARE_CALLBACK_URL": "",
    "INVOICESYNC_EXACT_READBACK_INTERVAL_SECONDS": "86400",
    "INVOICESYNC_YUKI_READBACK_INTERVAL_SECONDS": "86400",
}


@dataclass
class Booked:
    system: str
    client_id: str
    integration_id: str
    paid: int = 0


async def run(options: Options) -> list[Figure]:
    size = int(options.pick(1000, 200))
    async with bench_stack(
        NAME, options, connectors=("exact", "lexware", "yuki"), sandbox=SANDBOX, env=ENV
    ) as (database_url, running):
        partner = new_partner(running)
        key = str(partner.headers["Authorization"])
        exact_id = exact_client(running, partner, "Recon Exact BV")
        lexware_id = lexware_client(running, partner, "Recon Lexware GmbH")
        yuki_id, administration = yuki_client(running, partner, "Recon Yuki BV")
        bodies: list[dict[str, Any]] = []
        for system, client_id in (("exact", exact_id), ("lexware", lexware_id)):
            bodies += _documents(system, client_id, size)
        bodies += _documents("yuki", yuki_id, size)
        progress(NAME, f"booking {len(bodies)} documents")
        started = time.monotonic()
        await post_documents(running.api_url, key, bodies, concurrency=12)
        await wait_until(
            lambda: _all_settled(database_url, len(bodies)),
            within=BUDGET_SECONDS - 60,
            interval=1.0,
            what=f"{len(bodies)} documents booked",
        )
        progress(NAME, f"booked in {time.monotonic() - started:.0f} s")
        booked = [
            _booked(partner, "exact", exact_id),
            _booked(partner, "lexware", lexware_id),
            _booked(partner, "yuki", yuki_id),
        ]
        api = httpx.AsyncClient(
            base_url=running.api_url, headers={"Authorization": key}, timeout=60
        )
        async with httpx.AsyncClient(timeout=30) as http, api:
            booked[2].paid = await _pay_in_yuki(http, running, administration, size)
            progress(NAME, f"{booked[2].paid} Yuki invoices paid in Yuki")
            figures: list[Figure] = []
            for each in booked:
                figures += await _reconcile(http, running, api, each, size)
        partner.close()
    return figures


def _documents(system: str, client_id: str, size: int) -> list[dict[str, Any]]:
    bodies = []
    for n in range(size):
        number, customer = f"{system[0].upper()}-{n:05d}", f"k{n % CUSTOMERS}"
        if system == "lexware":
            body = german_document(client_id, number, customer)
        else:
            body = document_body(client_id, number, customer=customer)
        body["issue_date"] = f"2026-11-{1 + n % 28:02d}"
        bodies.append(body)
    return bodies


async def _all_settled(database_url: str, total: int) -> bool:
    failed = await count_sync_states(database_url, ("failed",))
    if failed:
        raise Stalled(f"{failed} documents failed to book; see the logs")
    return await count_sync_states(database_url, ("sent", "booked")) >= total


def _booked(partner: httpx.Client, system: str, client_id: str) -> Booked:
    listed = partner.get(f"/v1/clients/{client_id}/integrations")
    listed.raise_for_status()
    (integration,) = [i for i in listed.json() if i["system"] == system]
    return Booked(system, client_id, str(integration["id"]))


async def _pay_in_yuki(
    http: httpx.AsyncClient, running: Stack, administration: str, size: int
) -> int:
    """Pay every tenth invoice in Yuki (the sandbox's control, as a bank match would)."""
    paid = 0
    step = round(1 / PAID_SHARE)
    for n in range(0, size, step):
        done = await http.post(
            f"{running.sandbox_url}/_sandbox/yuki/administrations/{administration}/payments",
            json={"reference": f"Y-{n:05d}"},
        )
        done.raise_for_status()
        paid += 1
    return paid


def _target(system: str, size: int, paid: int) -> int:
    if system == "exact":
        return 2 * math.ceil(size / 60) + 2
    if system == "lexware":
        return math.ceil(size / 250) + 1
    return 1 + paid + 2


async def _reconcile(
    http: httpx.AsyncClient, running: Stack, api: httpx.AsyncClient, booked: Booked, size: int
) -> list[Figure]:
    await clear_sandbox_calls(http, running)
    started = await api.post(
        f"/v1/integrations/{booked.integration_id}/reconciliations", json=PERIOD
    )
    started.raise_for_status()
    url = f"/v1/integrations/{booked.integration_id}/reconciliations/{started.json()['id']}"
    began = time.monotonic()

    async def over() -> dict[str, Any] | None:
        body: dict[str, Any] = (await api.get(url)).json()
        return body if body["status"] != "running" else None

    done: dict[str, Any] = await wait_until(over, within=90, what=f"{booked.system} reconciled")
    seconds = time.monotonic() - began
    if done["status"] != "finished":
        raise Stalled(f"{booked.system} reconciliation {done['status']}: {done['failure']}")
    counted = len(await sandbox_calls(http, running, f"/{booked.system}/"))
    used = int(done["calls_used"])
    counts = done["report"]["counts"]
    target = _target(booked.system, size, booked.paid)
    per_thousand = used * 1000 / size
    progress(NAME, f"{booked.system}: {used} calls (sandbox {counted}) in {seconds:.1f} s")
    return [
        Figure(
            NAME,
            f"{booked.system}: calls per 1,000 documents",
            round(per_thousand, 1),
            reference=f"{used} calls for {counts['theirs']} entries read, {size} ours",
            target=f"<= {target * 1000 / size:g}",
            passed=used <= target and counts["theirs"] == size,
            note=(
                f"{seconds:.1f} s; "
                + (f"{booked.paid} paid in Yuki; " if booked.paid else "")
                + f"{counts['differences']} differences reported"
            ),
        ),
        Figure(
            NAME,
            f"{booked.system}: calls_used = sandbox's count",
            used,
            reference=f"sandbox counted {counted}",
            target="equal",
            passed=used == counted,
        ),
    ]
