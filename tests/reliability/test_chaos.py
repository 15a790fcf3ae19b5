"""The chaos suite: documents across many clients and the three systems while processes
are killed (-9), the broker restarts empty, and the sandbox answers 500s, 429 storms,
timeouts and loses responses after committing. Afterwards, from the sandbox's books and
ours: nothing booked twice, nothing lost, booking numbers unique, no customer twice,
every failure with its reason. Small in ``make test``; ``INVOICESYNC_CHAOS_SIZE=full``
(``make chaos``) runs the full size."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import wait_for
from tests.reliability.conftest import new_partner_key
from tests.support import chaos
from tests.support.accounting_state import (
    UNSETTLED,
    Findings,
    check_exact,
    check_lexware,
    check_yuki,
    finalize_some_lexware,
    list_documents,
)
from tests.support.broker_control import ControlledBroker
from tests.support.integrations import ConnectedClient, connect, invoice_body, new_client
from tests.support.processes import Stack

pytestmark = [pytest.mark.reliability, pytest.mark.chaos]
SIZE = chaos.ChaosSize.from_env()
CHECKS: dict[str, Callable[[str, Any, list[dict[str, Any]], Findings], None]] = {
    "exact": lambda s, b, d, f: check_exact(s, int(b), d, f),
    "lexware": check_lexware,
    "yuki": check_yuki,
}


def connect_clients(stack: Stack, partner: httpx.Client) -> list[ConnectedClient]:
    clients = []
    for index in range(SIZE.clients):
        system = chaos.system_of(index)
        client_id = new_client(
            partner, f"Chaos client {index}", "DE" if system == "lexware" else "NL"
        )
        clients.append(connect(stack, partner, client_id, system))
    return clients


def bodies_for(clients: list[ConnectedClient]) -> list[dict[str, Any]]:
    bodies = []
    for n in range(SIZE.documents):
        index = n % len(clients)
        customer = f"c{index}-k{n % SIZE.customers_per_client}"
        bodies.append(invoice_body(clients[index], f"CH{index:02d}-{n:05d}", customer))
    return bodies


def unleash(stack: Stack, broker: ControlledBroker, poster: chaos.Poster) -> Counter[str]:
    """Kill, restart and expire while documents flow; returns what was done."""
    done: Counter[str] = Counter()

    def when_posted(fraction: float) -> None:
        wait_for(
            lambda: len(poster.posted) >= fraction * SIZE.documents, timeout=SIZE.settle_seconds
        )

    when_posted(0.1)
    chaos.expire_all_tokens(stack)
    done["token expiry (all systems)"] += 1
    chaos.kill_and_restart(stack, "api", "exact", "lexware")
    done["kill -9 api"] += 1
    done["kill -9 connector"] += 2
    when_posted(0.5)
    broker.restart()
    done["broker restart"] += 1
    chaos.rate_limit_storm(stack, SIZE.faults_per_kind)
    chaos.arm_fault_wave(stack, SIZE.faults_per_kind)
    chaos.expire_all_tokens(stack)
    done["token expiry (all systems)"] += 1
    when_posted(0.8)
    chaos.kill_and_restart(stack, "api", "yuki-2")
    done["kill -9 api"] += 1
    done["kill -9 connector"] += 1
    return done


def settle(
    partner: httpx.Client, clients: list[ConnectedClient]
) -> dict[str, list[dict[str, Any]]]:
    """Wait until every document of every client reached an end state in our books (or
    the bound: the figures then show what stayed unsettled), then read them all.

    While waiting, one small page per unsettled status is asked for, as a frontend's
    "still syncing" badge would: listing 10,000 documents five times a second would
    keep the API too busy to apply the very results it waits for."""

    def nothing_unsettled() -> bool:
        try:
            pages = [
                partner.get("/v1/invoices", params={"sync_status": status, "limit": 1})
                for status in sorted(UNSETTLED)
            ]
        except httpx.HTTPError:
            return False  # the API is restarting: ask again
        return all(p.status_code == 200 and not p.json()["data"] for p in pages)

    with contextlib.suppress(AssertionError):
        wait_for(nothing_unsettled, timeout=SIZE.settle_seconds)
    return {client.client_id: list_documents(partner, client.client_id) for client in clients}


@pytest.mark.timeout(SIZE.settle_seconds * 3)
def test_nothing_lost_nothing_twice_under_chaos(
    chaos_stack: Stack, chaos_broker: ControlledBroker
) -> None:
    started = time.monotonic()
    key = new_partner_key(chaos_stack)
    partner = httpx.Client(
        base_url=chaos_stack.api_url, timeout=60, headers={"Authorization": f"Bearer {key}"}
    )
    clients = connect_clients(chaos_stack, partner)
    chaos.arm_fault_wave(chaos_stack, SIZE.faults_per_kind)
    poster = chaos.Poster(chaos_stack.api_url, key)
    posting = poster.post_all(bodies_for(clients))
    injected = unleash(chaos_stack, chaos_broker, poster)
    wait_for(lambda: len(poster.posted) == SIZE.documents, timeout=SIZE.settle_seconds)
    posting.shutdown(wait=True)
    posted_at = time.monotonic()

    settled = settle(partner, clients)
    replay = partner.post("/v1/dead-letters/replay", json={})
    replayed = replay.json()["documents"] if replay.status_code == 202 else 0
    if replayed:
        settled = settle(partner, clients)
    lexware_documents = [d for c in clients if c.system == "lexware" for d in settled[c.client_id]]
    finalised = finalize_some_lexware(chaos_stack.sandbox_url, lexware_documents, how_many=5)
    if finalised:
        wait_for(lambda: _all_booked(partner, lexware_documents, set(finalised)), timeout=60)
        settled = settle(partner, clients)
    elapsed = time.monotonic() - started

    findings = Findings()
    for client in clients:
        findings.add_ours(settled[client.client_id])
        CHECKS[client.system](
            chaos_stack.sandbox_url, client.books, settled[client.client_id], findings
        )
    fired = chaos.faults_fired(chaos_stack)
    _print_figures(
        findings, fired, injected, poster, replayed, len(finalised), elapsed, posted_at - started
    )

    assert findings.documents == SIZE.documents
    assert findings.duplicates == []
    assert findings.lost == []
    assert findings.unsettled == []
    assert findings.duplicate_booking_numbers == []
    assert findings.duplicate_customers == []
    assert findings.failures_without_reason == []
    assert replay.status_code == 202, replay.text
    assert sum(fired.values()) > 0 and chaos_broker.restarts == 1


def _all_booked(partner: httpx.Client, documents: list[dict[str, Any]], vouchers: set[str]) -> bool:
    """Whether the documents of these Lexware vouchers show their booking number."""
    ids = [d["id"] for d in documents if {s["remote_id"] for s in d["sync"]} & vouchers]
    states = [s for i in ids for s in partner.get(f"/v1/invoices/{i}").json()["sync"]]
    return len(ids) == len(vouchers) and all(s["status"] == "booked" for s in states)


def _print_figures(
    findings: Findings,
    fired: dict[str, int],
    injected: Counter[str],
    poster: chaos.Poster,
    replayed: int,
    finalised: int,
    elapsed: float,
    posting: float,
) -> None:
    print(
        f"\nchaos ({SIZE.name}): {findings.documents} documents across {SIZE.clients} clients"
        f" and 3 systems in {elapsed:.1f} s ({findings.documents / elapsed:.1f} documents/s;"
        f" posted in {posting:.1f} s with {poster.retries} client retries)"
        f"\n  sandbox faults fired: {fired}"
        f"\n  process faults: {dict(injected)}"
        f"\n  end states: {dict(findings.by_status)}; dead letters replayed: {replayed};"
        f" Lexware drafts finalised: {finalised}"
        f"\n  duplicates {len(findings.duplicates)}, lost {len(findings.lost)},"
        f" unsettled {len(findings.unsettled)},"
        f" duplicate booking numbers {len(findings.duplicate_booking_numbers)},"
        f" duplicate customers {len(findings.duplicate_customers)},"
        f" failures without a reason {len(findings.failures_without_reason)}"
    )
