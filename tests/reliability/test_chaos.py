"""The chaos suite: documents across many clients and the three systems while processes
are killed (-9), the broker restarts empty, and the sandbox answers 500s, 429 storms,
timeouts, loses responses after committing (some writes becoming visible only seconds
later) and loses Exact's refresh answers; one replica's clock runs two minutes ahead,
Exact's minute runs out for longer than a lease while a replica restarts, and the books
already hold last year's entries with this year's numbers, entries typed by hand with our
references, and one division books invoices and credit notes in one journal. Afterwards,
from the sandbox's books, ours and the webhooks received: no wrong adoption, nothing booked
twice, no outcome announced twice, nothing lost, no settled document flipped, booking
numbers unique, no customer twice, every failure with its reason. Purchase documents with
files flow through the same chaos: each settled, booked or uploaded once, each supplier one
supplier account apart from the customers, its file attached once. Small in ``make test``;
``INVOICESYNC_CHAOS_SIZE=full`` (``make chaos``) runs the full size."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from tests.e2e.conftest import wait_for
from tests.reliability.conftest import new_partner_key
from tests.support import chaos
from tests.support.accounting_state import (
    FOR_THE_BOOKKEEPER,
    IN_FLIGHT,
    KINDS,
    Findings,
    check_exact,
    check_lexware,
    check_yuki,
    finalize_some_lexware,
    list_documents,
)
from tests.support.bookkeeper import TypedByHand, entries_for, type_entries
from tests.support.broker_control import ControlledBroker
from tests.support.integrations import ConnectedClient, connect, invoice_body, new_client
from tests.support.processes import Stack
from tests.support.purchase_books import (
    PurchaseFindings,
    check_exact_purchases,
    check_yuki_purchases,
)
from tests.support.purchases import PATHS, books_purchases, purchase_bodies
from tests.support.servers import serve_in_thread
from tests.support.webhooks import Receiver

pytestmark = [pytest.mark.reliability, pytest.mark.chaos]
SIZE = chaos.ChaosSize.from_env()
CHECKS: dict[str, Callable[[str, Any, list[dict[str, Any]], Findings, set[str]], None]] = {
    "exact": lambda s, b, d, f, o: check_exact(s, int(b), d, f, o),
    "lexware": check_lexware,
    "yuki": check_yuki,
}
ONE_JOURNAL = 0  # the client (an Exact one) whose invoices and credit notes share a journal
WEBHOOK_EVENTS = [
    "document.booked",
    "document.sent",
    "document.sync_failed",
    "integration.status_changed",
]


def connect_clients(stack: Stack, partner: httpx.Client) -> list[ConnectedClient]:
    clients = []
    for index in range(SIZE.clients):
        system = chaos.system_of(index)
        client_id = new_client(
            partner, f"Chaos client {index}", "DE" if system == "lexware" else "NL"
        )
        clients.append(connect(stack, partner, client_id, system, one_journal=index == ONE_JOURNAL))
    return clients


def bodies_for(clients: list[ConnectedClient]) -> list[dict[str, Any]]:
    """Every invoice, the traps (numbers the books already hold) first."""
    bodies = []
    for n in range(SIZE.documents):
        index = n % len(clients)
        customer = f"c{index}-k{n % SIZE.customers_per_client}"
        bodies.append(invoice_body(clients[index], f"CH{index:02d}-{n:05d}", customer))
    return sorted(bodies, key=lambda b: not _is_trap(b, clients))


def _is_trap(body: dict[str, Any], clients: list[ConnectedClient]) -> bool:
    return _rank(body, clients) < SIZE.traps_per_client


def _rank(body: dict[str, Any], clients: list[ConnectedClient]) -> int:
    """The how-manieth document of its client this is."""
    return int(body["number"].rsplit("-", 1)[1]) // len(clients)


def type_by_hand(
    stack: Stack, clients: list[ConnectedClient], bodies: list[dict[str, Any]]
) -> TypedByHand:
    """The bookkeeper's entries for every trap, client by client (in parallel: Lexware
    allows each organisation 2 requests a second)."""
    typed = TypedByHand()
    by_client = {c.client_id: c for c in clients}
    plan: dict[str, list[Any]] = {}
    for body in bodies:
        rank = _rank(body, clients)
        if rank < SIZE.traps_per_client:
            plan.setdefault(body["client_id"], []).extend(
                entries_for(
                    body["number"],
                    body["customer"]["external_id"],
                    hand_typed=rank % 2 == 0,
                    twin=rank % 4 == 0,
                )
            )
    with ThreadPoolExecutor(8) as pool:
        for future in [
            pool.submit(type_entries, stack, by_client[c], entries, typed)
            for c, entries in plan.items()
        ]:
            future.result()
    return typed


def arm_trap_faults(stack: Stack, clients: list[ConnectedClient]) -> dict[str, Any]:
    """Before the traps are posted: their creates lose their answers (some becoming visible
    only seconds later), so the look-up runs among the bookkeeper's look-alikes."""
    visible_late = chaos.arm_visible_late(stack, SIZE.visible_late_per_system)
    per_system = Counter(c.system for c in clients)
    for client in clients:
        if client.system == "exact":
            chaos.lose_create_answers_in_division(stack, client.books, SIZE.traps_per_client)
    for system in ("lexware", "yuki"):
        count = per_system[system] * SIZE.traps_per_client
        if count:
            chaos.arm_fault(
                stack, system, "drop_response_after_commit", count, chaos.CREATE_PATHS[system]
            )
    return {"visible_late_armed": visible_late}


@contextlib.contextmanager
def webhook_receiver(partner: httpx.Client) -> Iterator[Receiver]:
    """A partner's webhook consumer, verifying every signature."""
    receiver = Receiver()
    app = Starlette(routes=[Route("/hooks", receiver.handle, methods=["POST"])])
    with serve_in_thread(app) as url:
        created = partner.post(
            "/v1/webhook-endpoints", json={"url": f"{url}/hooks", "events": WEBHOOK_EVENTS}
        )
        assert created.status_code == 201, created.text
        receiver.secret = created.json()["secret"]
        yield receiver


def unleash(stack: Stack, broker: ControlledBroker, poster: chaos.Poster) -> Counter[str]:
    """Kill, restart and expire while documents flow; returns what was done."""
    done: Counter[str] = Counter()

    def when_posted(fraction: float) -> None:
        wait_for(
            lambda: len(poster.posted) >= fraction * SIZE.documents, timeout=SIZE.settle_seconds
        )

    def expire_tokens(lose_refresh_answers: bool = True) -> None:
        if lose_refresh_answers:
            chaos.lose_refresh_answers(stack, SIZE.refresh_losses_per_expiry)
        chaos.expire_all_tokens(stack)
        done["token expiry (all systems)"] += 1

    when_posted(0.1)
    # The first expiry refreshes cleanly: the traps posted first meet a live connection.
    expire_tokens(lose_refresh_answers=False)
    chaos.kill_and_restart(stack, "api", "exact", "lexware")
    done["kill -9 api"] += 1
    done["kill -9 connector"] += 2
    when_posted(0.3)
    done["rate-limit window s (2/min, exact-2 restarted)"] += int(spend_exact_minutes(stack))
    when_posted(0.5)
    broker.restart()
    done["broker restart"] += 1
    chaos.rate_limit_storm(stack, SIZE.faults_per_kind)
    chaos.arm_fault_wave(stack, SIZE.faults_per_kind)
    expire_tokens()
    when_posted(0.8)
    expire_tokens()
    chaos.kill_and_restart(stack, "api", "yuki-2")
    done["kill -9 api"] += 1
    done["kill -9 connector"] += 1
    return done


def spend_exact_minutes(stack: Stack) -> float:
    """Exact allows 2 calls a minute per division for longer than a lease, while an
    Exact replica is killed and started again (the group rebalances): pushes wait for
    their rate slot past their lease. Returns how long the window lasted."""
    started = time.monotonic()
    chaos.set_exact_minutely_limit(stack, 2)
    try:
        chaos.kill_and_restart(stack, "exact-2")
        remaining = SIZE.rate_limit_window_seconds - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)  # the fault's duration, not a wait for a condition
    finally:
        chaos.set_exact_minutely_limit(stack, 60)
    return time.monotonic() - started


def settle(
    partner: httpx.Client, clients: list[ConnectedClient], bound: float = SIZE.settle_seconds
) -> dict[str, list[dict[str, Any]]]:
    """Wait until every document of every client reached an end state in our books (or
    the bound: the figures then show what stayed unsettled), then read them all.

    While waiting, one small page per unsettled status is asked for, as a frontend's
    "still syncing" badge would: listing 10,000 documents five times a second would
    keep the API too busy to apply the very results it waits for."""

    def nothing_unsettled() -> bool:
        try:
            pages = [
                partner.get(f"/v1/{kind}", params={"sync_status": status, "limit": 1})
                for kind in [*KINDS, *PATHS.values()]
                for status in sorted(IN_FLIGHT)
            ]
            ambiguous = [
                partner.get(f"/v1/{kind}", params={"sync_status": "ambiguous", "limit": 200})
                for kind in [*KINDS, *PATHS.values()]
            ]
        except httpx.HTTPError:
            return False  # the API is restarting: ask again
        if not all(p.status_code == 200 for p in [*pages, *ambiguous]):
            return False
        # Ambiguous for the bookkeeper is an end state; "outcome unknown" is still asked.
        waiting = [
            s
            for page in ambiguous
            for d in page.json()["data"]
            for s in d["sync"]
            if s["status"] == "ambiguous" and (s["error"] or {}).get("code") != FOR_THE_BOOKKEEPER
        ]
        return not waiting and not any(p.json()["data"] for p in pages)

    with contextlib.suppress(AssertionError):
        wait_for(nothing_unsettled, timeout=bound)
    kinds = [*KINDS, *PATHS.values()]
    return {c.client_id: list_documents(partner, c.client_id, kinds) for c in clients}


def post_credit_notes(
    stack: Stack, poster: chaos.Poster, clients: list[ConnectedClient], bodies: list[dict[str, Any]]
) -> int:
    """Credit notes with the numbers of booked invoices, in the division whose one journal
    holds both, each losing its create answer: the look-up meets the invoice's entry."""
    client = clients[ONE_JOURNAL]
    invoices = [
        b for b in bodies if b["client_id"] == client.client_id and not _is_trap(b, clients)
    ]
    notes = [
        {
            **invoice,
            "external_id": f"cn-{invoice['number']}",
            "credit_note_for": poster.ids[invoice["external_id"]],
        }
        for invoice in invoices[: SIZE.credit_notes]
    ]
    chaos.lose_create_answers_in_division(stack, client.books, len(notes))
    posted = len(poster.posted)
    poster.post_all(notes).shutdown(wait=True)
    assert len(poster.posted) == posted + len(notes)
    return len(notes)


def received_events(receiver: Receiver) -> list[dict[str, Any]]:
    """Each message once (a redelivery of one webhook-id is the same message)."""
    events: dict[str, dict[str, Any]] = {}
    for received in list(receiver.received):
        if received.status == 200:
            events[received.headers["webhook-id"]] = received.event
    return list(events.values())


@pytest.mark.timeout(SIZE.settle_seconds * 5)
def test_nothing_lost_nothing_twice_under_chaos(
    chaos_stack: Stack, chaos_broker: ControlledBroker
) -> None:
    started = time.monotonic()
    key = new_partner_key(chaos_stack)
    partner = httpx.Client(
        base_url=chaos_stack.api_url, timeout=60, headers={"Authorization": f"Bearer {key}"}
    )
    clients = connect_clients(chaos_stack, partner)
    bodies = bodies_for(clients)
    typed = type_by_hand(chaos_stack, clients, bodies)
    with (
        webhook_receiver(partner) as receiver,
        chaos.Reconnector(partner, receiver.received) as reconnector,
    ):
        plan = arm_trap_faults(chaos_stack, clients)
        chaos.arm_fault_wave(chaos_stack, SIZE.faults_per_kind)
        poster = chaos.Poster(chaos_stack.api_url, key)
        posting = poster.post_all(bodies)
        # Purchase documents alongside (a poster of their own: the chaos paces on sales).
        chaos.lose_purchase_answers(chaos_stack, max(2, SIZE.purchases // 20))
        purchases = chaos.Poster(chaos_stack.api_url, key, threads=1)
        purchase_plan = purchase_bodies(clients, SIZE.purchases)
        purchasing = [purchases.post_all(b, f"/v1/{p}") for p, b in purchase_plan.items()]
        injected = unleash(chaos_stack, chaos_broker, poster)
        wait_for(lambda: len(poster.posted) == SIZE.documents, timeout=SIZE.settle_seconds)
        posting.shutdown(wait=True)
        for pool in purchasing:
            pool.shutdown(wait=True)
        assert len(purchases.posted) == SIZE.purchases
        posted_at = time.monotonic()

        settled = settle(partner, clients)
        replay = partner.post("/v1/dead-letters/replay", json={})
        replayed = replay.json()["documents"] if replay.status_code == 202 else 0
        credit_notes = post_credit_notes(chaos_stack, poster, clients, bodies)
        # A few documents more: a shorter bound, so a stuck run still prints its figures.
        settled = settle(partner, clients, SIZE.settle_seconds / 3)
        lexware_documents = [
            d
            for c in clients
            if c.system == "lexware"
            for d in settled[c.client_id]
            if "supplier" not in d
        ]
        finalised = finalize_some_lexware(chaos_stack.sandbox_url, lexware_documents, how_many=5)
        if finalised:
            with contextlib.suppress(AssertionError):  # the figures then show the drafts
                wait_for(lambda: _all_booked(partner, lexware_documents, set(finalised)), 60)
            settled = settle(partner, clients, SIZE.settle_seconds / 3)
        everything = [d for c in clients for d in settled[c.client_id]]

        def all_announced() -> bool:
            check = Findings()
            check.add_webhooks(received_events(receiver), everything)
            return not check.missing_webhooks

        with contextlib.suppress(AssertionError):
            wait_for(all_announced, timeout=SIZE.settle_seconds / 4)
        events = received_events(receiver)
    elapsed = time.monotonic() - started
    injected["connections lost, announced"] = reconnector.announced
    injected["connections reconnected by the user"] = reconnector.reconnected
    overdue = chaos.overdue_pushes(chaos_stack)
    injected["pushes stopped at their deadline"] = len(overdue)
    blocks = chaos.exact_blocks(chaos_stack)
    injected["Exact blocks (sandbox)"] = len(blocks)

    findings = Findings()
    bought = PurchaseFindings()
    for client in clients:
        findings.add_ours(settled[client.client_id])
        of_client = [d for d in settled[client.client_id] if "supplier" not in d]
        purchased = [d for d in settled[client.client_id] if "supplier" in d]
        if books_purchases(client.system):
            bought.add_ours(client.system, purchased)
        if client.system == "exact":
            check_exact_purchases(chaos_stack.sandbox_url, int(client.books), purchased, bought)
        elif client.system == "yuki":
            check_yuki_purchases(chaos_stack.sandbox_url, client.books, purchased, bought)
        else:
            of_client += purchased  # Lexware: vouchers of either side, one check
        CHECKS[client.system](
            chaos_stack.sandbox_url,
            client.books,
            of_client,
            findings,
            typed.ids.get(client.books, set()),
        )
    findings.add_webhooks(events, everything)
    fired = chaos.faults_fired(chaos_stack)
    plan |= {
        "last year's entries": typed.last_year,
        "typed by hand, same reference": typed.same_reference,
        "of which twins (same date, total, customer)": typed.indistinguishable,
        "credit notes reusing an invoice number in one journal": credit_notes,
        "refresh answers to lose": 2 * SIZE.refresh_losses_per_expiry,
        "replica with clock +2 min": "yuki-2"
        if "FAKETIME" in chaos.REPLICA_ENV["yuki-2"]
        else "NONE",
        "integrations not active at the end": _not_active(partner, clients),
    }
    _print_figures(
        findings,
        fired,
        injected,
        plan,
        poster,
        replayed,
        len(finalised),
        elapsed,
        posted_at - started,
        len(events),
        bought,
    )
    for where in overdue[:8]:
        print(f"    push stopped at its deadline: {where}")
    for block in blocks:
        print(f"    Exact blocked the app: {block}")

    assert findings.documents == SIZE.documents + credit_notes + SIZE.purchases
    assert bought.documents == SIZE.purchases
    problems = {
        "wrong adoptions": findings.wrong_adoptions,
        "double bookings": findings.double_bookings,
        "duplicate webhooks": findings.duplicate_webhooks,
        "lost": findings.lost,
        "settled documents flipped": findings.flipped,
        "unsettled": findings.unsettled,
        "webhooks missing": findings.missing_webhooks,
        "duplicate booking numbers": findings.duplicate_booking_numbers,
        "duplicate customers": findings.duplicate_customers,
        "failures without a reason": findings.failures_without_reason,
        "purchases unsettled": bought.unsettled,
        "purchases lost": bought.lost,
        "purchases booked twice or no one's": bought.double_bookings,
        "purchase entries not their document's": bought.wrong_entries,
        "duplicate suppliers": bought.duplicate_suppliers,
        "suppliers merged into a customer": bought.merged_into_customer,
        "files missing, wrong or twice": bought.files_wrong,
    }
    assert {name: found[:5] for name, found in problems.items() if found} == {}
    assert plan["visible_late_armed"], "the sandbox lacks drop_response_visible_late"
    assert replay.status_code == 202, replay.text
    assert sum(fired.values()) > 0 and chaos_broker.restarts == 1


def _all_booked(partner: httpx.Client, documents: list[dict[str, Any]], vouchers: set[str]) -> bool:
    """Whether the documents of these Lexware vouchers show their booking number."""
    ids = [d["id"] for d in documents if {s["remote_id"] for s in d["sync"]} & vouchers]
    states = [s for i in ids for s in partner.get(f"/v1/invoices/{i}").json()["sync"]]
    return len(ids) == len(vouchers) and all(s["status"] == "booked" for s in states)


def _not_active(partner: httpx.Client, clients: list[ConnectedClient]) -> list[str]:
    """Which integrations ended broken, and why: what an unsettled document waits for."""
    shown = [partner.get(f"/v1/integrations/{c.integration_id}").json() for c in clients]
    return [
        f"{i['system']} {i['id']}: {i['status']} ({i.get('status_reason')})"
        for i in shown
        if i.get("status") != "active"
    ]


def _print_figures(
    findings: Findings,
    fired: dict[str, int],
    injected: Counter[str],
    plan: dict[str, Any],
    poster: chaos.Poster,
    replayed: int,
    finalised: int,
    elapsed: float,
    posting: float,
    webhooks: int,
    bought: PurchaseFindings,
) -> None:
    print(
        f"\nchaos ({SIZE.name}): {findings.documents} documents across {SIZE.clients} clients"
        f" and 3 systems in {elapsed:.1f} s ({findings.documents / elapsed:.1f} documents/s;"
        f" posted in {posting:.1f} s with {poster.retries} client retries)"
        f"\n  sandbox faults fired: {fired}"
        f"\n  process faults: {dict(injected)}"
        f"\n  fault plan: {plan}"
        f"\n  end states: {dict(findings.by_status)}; dead letters replayed: {replayed};"
        f" Lexware drafts finalised: {finalised}; webhook messages: {webhooks}"
        f"\n  wrong adoptions {len(findings.wrong_adoptions)},"
        f" double bookings {len(findings.double_bookings)},"
        f" duplicate webhooks {len(findings.duplicate_webhooks)},"
        f" lost {len(findings.lost)},"
        f" settled documents flipped {len(findings.flipped)}"
        f"\n  unsettled {len(findings.unsettled)},"
        f" webhooks missing {len(findings.missing_webhooks)},"
        f" duplicate booking numbers {len(findings.duplicate_booking_numbers)},"
        f" duplicate customers {len(findings.duplicate_customers)},"
        f" failures without a reason {len(findings.failures_without_reason)},"
        f" bookkeeper's entries gone {len(findings.bookkeeper_entries_gone)}"
        f"\n  purchase documents {bought.documents} (end states {dict(bought.by_status)}):"
        f" unsettled {len(bought.unsettled)}, lost {len(bought.lost)},"
        f" booked twice or no one's {len(bought.double_bookings)},"
        f" not their document's {len(bought.wrong_entries)},"
        f" duplicate suppliers {len(bought.duplicate_suppliers)},"
        f" merged into a customer {len(bought.merged_into_customer)},"
        f" files missing/wrong/twice {len(bought.files_wrong)};"
        f" Exact documents left unlinked (known limitation)"
        f" {len(bought.unlinked_files)}"
    )
    for name, found in (
        ("wrong adoptions", findings.wrong_adoptions),
        ("double bookings", findings.double_bookings),
        ("duplicate webhooks", findings.duplicate_webhooks),
        ("lost", findings.lost),
        ("settled documents flipped", findings.flipped),
        ("unsettled", findings.unsettled),
        ("purchases unsettled", bought.unsettled),
        ("purchases lost", bought.lost),
        ("purchases booked twice or no one's", bought.double_bookings),
        ("purchase entries not their document's", bought.wrong_entries),
        ("duplicate suppliers", bought.duplicate_suppliers),
        ("suppliers merged into a customer", bought.merged_into_customer),
        ("files missing, wrong or twice", bought.files_wrong),
        ("Exact documents left unlinked", bought.unlinked_files),
    ):
        systems = Counter(f.split()[0].rstrip(":") for f in found)
        if found and set(systems) <= set(chaos.SYSTEMS):
            print(f"    {name} by system: {dict(systems)}")
        for example in found[:8]:
            print(f"    {name}: {example}")
