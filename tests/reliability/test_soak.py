"""A month unattended: 30 simulated days on the dev stack, every service following the
sandbox's clock, with daily traffic for clients over the three systems and a nightly run
for each integration. On the way: an Exact integration idle for 29 days, Exact's daily
limit lowered so that a busy day runs out, the Yuki connector down for a day, the API down
across a nightly hour, a Lexware token revoked on day 12 and an Exact division's access
withdrawn on day 20 (each repaired by its user once announced). It must end with no 429,
no Exact block, no connection lapsed, exactly one nightly run per night and integration,
every break announced within a simulated minute, nothing lost and nothing booked twice.
Small in ``make test``; ``make soak`` (``INVOICESYNC_SOAK_SIZE=full``) runs the full size."""

from __future__ import annotations

import contextlib
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import wait_for
from tests.reliability.conftest import new_partner_key
from tests.reliability.test_chaos import CHECKS, received_events, webhook_receiver
from tests.support import chaos, soak
from tests.support.accounting_state import Findings, list_documents
from tests.support.broker_control import ControlledBroker
from tests.support.integrations import ConnectedClient, connect, invoice_body, new_client
from tests.support.processes import Stack, running_stack
from tests.support.webhooks import Receiver

pytestmark = [pytest.mark.reliability, pytest.mark.soak]
SIZE = soak.SoakSize.from_env()
IDLE = 0  # the Exact client that posts nothing until the last day
ANNOUNCED_WITHIN = 60.0  # simulated seconds from a break to its webhook and notification
SOAK_ENV = {
    "INVOICESYNC_SCHEDULER_INTERVAL_SECONDS": "1",
    "INVOICESYNC_KEEPALIVE_INTERVAL_SECONDS": "2",
    "INVOICESYNC_EXACT_READBACK_INTERVAL_SECONDS": "20",
    "INVOICESYNC_YUKI_READBACK_INTERVAL_SECONDS": "20",
    "INVOICESYNC_LEXWARE_POLL_INTERVAL_SECONDS": "20",
    "INVOICESYNC_RETENTION_INTERVAL_SECONDS": "10",
    "INVOICESYNC_SWEEPER_PENDING_SECONDS": "20",
    "INVOICESYNC_SWEEPER_INTERVAL_SECONDS": "2",
    "INVOICESYNC_EXACT_TIMEOUT_SECONDS": "10",
    "INVOICESYNC_LEXWARE_TIMEOUT_SECONDS": "10",
    "INVOICESYNC_YUKI_TIMEOUT_SECONDS": "10",
}


@pytest.fixture(scope="module")
def soak_stack(
    database_url: str,
    chaos_broker: ControlledBroker,
    encryption_key: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """The dev stack with every service on the sandbox's clock."""
    with running_stack(
        database_url=database_url,
        bootstrap=chaos_broker.bootstrap,
        encryption_key=encryption_key,
        log_dir=Path(tmp_path_factory.mktemp("logs")),
        extra_env=SOAK_ENV,
        follow_sandbox_clock=True,
    ) as stack:
        yield stack


@dataclass
class Month:
    """What the soak drives and what it saw."""

    stack: Stack
    partner: httpx.Client
    receiver: Receiver
    calendar: soak.Calendar
    clients: list[ConnectedClient]
    poster: chaos.Poster
    first_day: date
    nights: soak.Nights = field(default_factory=soak.Nights)
    breaks: list[soak.Break] = field(default_factory=list)
    unfinished_nights: list[str] = field(default_factory=list)
    posted: int = 0
    waiting_for_the_day: int = 0  # the busy day's invoices held back until the reset

    def post_day(self, day: date, extra: dict[int, int] | None = None) -> None:
        """The day's invoices of every client (the idle one posts on the last day only)."""
        bodies = []
        for index, client in enumerate(self.clients):
            count = SIZE.per_day + (extra or {}).get(index, 0)
            if index == IDLE and day != self.last_day:
                count = 0
            for n in range(count):
                number = f"S{index:02d}-{day:%m%d}-{n:03d}"
                body = invoice_body(client, number, f"c{index}-k{n % 3}")
                bodies.append(body | {"issue_date": day.isoformat()})
        self.poster.post_all(bodies).shutdown(wait=True)
        self.posted += len(bodies)

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=SIZE.days - 1)

    def settle_day(self, bound: float = 60.0) -> None:
        """Until nothing is in flight but what waits on purpose (a spent day, a connector
        that is down), or the bound."""

        def quiet() -> bool:
            try:
                pages = [
                    self.partner.get("/v1/invoices", params={"sync_status": s, "limit": 200})
                    for s in ("pending", "sending")
                ]
            except httpx.HTTPError:
                return False
            if any(p.status_code != 200 for p in pages):
                return False
            down = {c.integration_id for c in self.clients if _is_down(self.stack, c.system)}
            states = [s for p in pages for d in p.json()["data"] for s in d["sync"]]
            return all(
                s["status"] not in ("pending", "sending")
                or s.get("waiting_reason")
                or s["integration_id"] in down
                for s in states
            )

        with contextlib.suppress(AssertionError):
            wait_for(quiet, timeout=bound)

    def night(self, night: date, bound: float = 60.0) -> None:
        """Wait until every integration's run of this night started and none is running
        (but those of a connector that is down: they finish when it is back)."""
        ids = [c.integration_id for c in self.clients]
        down = {c.integration_id for c in self.clients if _is_down(self.stack, c.system)}

        def ran() -> bool:
            try:
                runs = self._runs()
            except (httpx.HTTPError, AssertionError):
                return False
            started = {
                i
                for r in runs
                if r["trigger"] == "nightly"
                and soak.night_of(datetime.fromisoformat(r["started_at"])) == night
                for i in r["integration_ids"]
            }
            running = {i for r in runs if r["status"] == "running" for i in r["integration_ids"]}
            return started >= set(ids) and running <= down

        self.nights.passed.append(night)
        try:
            wait_for(ran, timeout=bound)
        except AssertionError:
            self.unfinished_nights.append(night.isoformat())

    def waiting(self, client: ConnectedClient, reason: str) -> int:
        """The client's documents that wait (pending) for ``reason``."""
        params: dict[str, str | int] = {
            "client_id": client.client_id,
            "sync_status": "pending",
            "limit": 200,
        }
        listed = self.partner.get("/v1/invoices", params=params)
        assert listed.status_code == 200, listed.text
        return sum(
            s.get("waiting_reason") == reason for d in listed.json()["data"] for s in d["sync"]
        )

    def _runs(self) -> list[dict[str, Any]]:
        runs = []
        for client in self.clients:
            listed = self.partner.get("/v1/sync-runs", params={"client_id": client.client_id})
            assert listed.status_code == 200, listed.text
            runs.extend(listed.json())
        return runs

    def break_and_repair(
        self,
        client: ConnectedClient,
        what: str,
        breaking: Callable[[], None],
        repair: Callable[[], None],
        day: date,
    ) -> None:
        """Break a connection, post the client's next invoice (the connector meets the
        break), wait, without moving the clock, for the webhook and the notification;
        more invoices come while it is broken, and the user repairs and reconnects four
        hours later."""
        at = self.calendar.now()
        started = time.monotonic()
        seen = len(self.receiver.received)
        notified = self._notifications(client)
        breaking()
        found = soak.Break(what, client.integration_id, at)
        self.breaks.append(found)
        body = invoice_body(client, f"B{what[:2].upper()}-{day:%m%d}", "after-break")
        self.poster.post_all([body | {"issue_date": day.isoformat()}]).shutdown(wait=True)
        self.posted += 1
        deadline = started + ANNOUNCED_WITHIN * 2
        while time.monotonic() < deadline and not found.announced_within(ANNOUNCED_WITHIN * 2):
            if found.webhook_after is None and self._status_webhook(client, seen):
                found.webhook_after = time.monotonic() - started
            if found.notification_after is None and self._notifications(client) > notified:
                found.notification_after = time.monotonic() - started
            time.sleep(0.2)
        meanwhile = [
            invoice_body(client, f"W{what[:2].upper()}-{day:%m%d}-{n}", "while-broken")
            | {"issue_date": day.isoformat()}
            for n in range(SIZE.per_day)
        ]
        self.poster.post_all(meanwhile).shutdown(wait=True)
        self.posted += len(meanwhile)
        self.calendar.advance_to(self.calendar.now() + timedelta(hours=4))
        repair()
        reconnect(self.partner, client)

    def _status_webhook(self, client: ConnectedClient, seen: int) -> bool:
        return any(
            r.event["type"] == "integration.status_changed"
            and r.event["data"]["integration_id"] == client.integration_id
            and r.event["data"]["status"] != "active"
            for r in self.receiver.received[seen:]
        )

    def _notifications(self, client: ConnectedClient) -> int:
        """The client's notifications about its connection."""
        listed = self.partner.get("/v1/notifications", params={"client_id": client.client_id})
        assert listed.status_code == 200, listed.text
        return sum(n["kind"] == "integration_status_changed" for n in listed.json())


def reconnect(partner: httpx.Client, client: ConnectedClient) -> None:
    """The user connects again, choosing the client's books on the consent page (which
    approves at once in the dev stack)."""
    started = partner.post(f"/v1/integrations/{client.integration_id}/reconnect")
    assert started.status_code == 200, started.text
    url = started.json()["authorize_url"]
    if client.system == "lexware":
        url = f"{url}&organization_id={client.books}"
    callback = httpx.get(url, follow_redirects=True, timeout=60)
    assert callback.status_code == 200, callback.text
    shown = partner.get(f"/v1/integrations/{client.integration_id}").json()
    assert shown["status"] == "active", (shown["status"], shown["status_reason"])


def _is_down(stack: Stack, system: str) -> bool:
    return system not in stack.processes


def connect_clients(stack: Stack, partner: httpx.Client) -> list[ConnectedClient]:
    clients = []
    for index in range(SIZE.clients):
        system = chaos.system_of(index)
        client_id = new_client(
            partner, f"Soak client {index}", "DE" if system == "lexware" else "NL"
        )
        client = connect(stack, partner, client_id, system)
        patched = partner.patch(
            f"/v1/integrations/{client.integration_id}",
            json={"nightly_sync": True, "nightly_hour": soak.NIGHTLY_HOUR},
        )
        assert patched.status_code == 200, patched.text
        clients.append(client)
    return clients


def first_of(clients: list[ConnectedClient], system: str, skip: int = 0) -> ConnectedClient:
    return [c for c in clients if c.system == system][skip]


def set_exact_daily_limit(stack: Stack, limit: int) -> None:
    response = httpx.put(
        f"{stack.sandbox_url}/_sandbox/exact/limits",
        json={"daily_limit": limit, "reset_counters": True},
    )
    assert response.status_code == 200, response.text


def live_a_month(month: Month) -> None:
    stack, calendar = month.stack, month.calendar
    clients = month.clients
    lexware = first_of(clients, "lexware")
    withdrawn = first_of(clients, "exact", skip=1)  # not the idle one
    busy = clients.index(withdrawn)
    began = time.monotonic()
    calendar.advance_to(calendar.nightly_slot(month.first_day) + timedelta(minutes=5))
    month.night(month.first_day)  # the first night: nothing to send yet
    for offset in range(SIZE.days):
        day = month.first_day + timedelta(days=offset)
        number = offset + 1
        # Exact's day for a division is a window from its first call; every morning's first
        # calls open one within seconds of MORNING. The busy day posts an hour later, so
        # yesterday's window has surely ended and its burst meets one whole day, not the
        # tail of yesterday's and then a fresh one (which would hold 60 more calls).
        busy_day = number == SIZE.busy_day
        calendar.advance_to(calendar.local(day, soak.BUSY_MORNING if busy_day else soak.MORNING))
        if number == SIZE.connector_down_day:
            stack.kill("yuki", signal.SIGTERM)
        if number == SIZE.connector_down_day + 1:
            chaos.start_again(stack, "yuki")
        # More than the division's day allows (each invoice costs at least a call).
        extra = {busy: SIZE.exact_daily_limit + 5} if busy_day else {}
        month.post_day(day, extra)
        if number == SIZE.lexware_revoked_day:
            month.break_and_repair(
                lexware,
                "lexware token revoked",
                lambda: _sandbox_post(
                    stack, "/lexware/tokens/revoke", {"organization_id": lexware.books}
                ),
                lambda: None,
                day,
            )
        if number == SIZE.exact_withdrawn_day:
            month.break_and_repair(
                withdrawn,
                "exact division access withdrawn",
                lambda: _sandbox_post(
                    stack, f"/exact/divisions/{withdrawn.books}/access", {"granted": False}
                ),
                lambda: _sandbox_post(
                    stack, f"/exact/divisions/{withdrawn.books}/access", {"granted": True}
                ),
                day,
            )
        # The busy day's invoices go at Exact's 60 calls a minute until the day is spent.
        month.settle_day(bound=180.0 if number == SIZE.busy_day else 60.0)
        if number == SIZE.busy_day:
            month.waiting_for_the_day = month.waiting(withdrawn, "daily_limit")
        night = day + timedelta(days=1)
        slot = calendar.nightly_slot(night)
        if number == SIZE.api_down_night:
            # Down from late evening until two hours after the nightly hour.
            calendar.advance_to(calendar.local(day, time_of_day(23)))
            stack.kill("api", signal.SIGKILL)
            calendar.advance_to(slot + timedelta(hours=2))
            chaos.start_again(stack, "api")
        else:
            calendar.advance_to(slot + timedelta(minutes=5))
        month.night(night)
        print(
            f"  day {number:2d} ({day}): {month.posted} documents posted,"
            f" {len(month.unfinished_nights)} nights unfinished, {time.monotonic() - began:.0f} s",
            flush=True,
        )


def _sandbox_post(stack: Stack, path: str, body: dict[str, Any]) -> None:
    response = httpx.post(f"{stack.sandbox_url}/_sandbox{path}", json=body)
    assert response.status_code == 200, response.text


@pytest.mark.timeout(3600)
def test_a_month_unattended(soak_stack: Stack) -> None:
    started = time.monotonic()
    stack = soak_stack
    key = new_partner_key(stack)
    partner = httpx.Client(
        base_url=stack.api_url, timeout=60, headers={"Authorization": f"Bearer {key}"}
    )
    set_exact_daily_limit(stack, SIZE.exact_daily_limit)
    calendar = soak.Calendar(stack.sandbox_url)
    clients = connect_clients(stack, partner)
    with webhook_receiver(partner) as receiver:
        tomorrow = calendar.now().astimezone(soak.ZONE).date() + timedelta(days=1)
        month = Month(
            stack, partner, receiver, calendar, clients, chaos.Poster(stack.api_url, key), tomorrow
        )
        live_a_month(month)
        # The morning after: every day's budget has reset, everything settles.
        calendar.advance_to(calendar.local(month.last_day + timedelta(days=1), soak.MORNING))
        month.settle_day(bound=180.0)
        everything = {c.client_id: list_documents(partner, c.client_id) for c in clients}
        with contextlib.suppress(AssertionError):
            wait_for(lambda: not _missing_webhooks(receiver, everything), timeout=60)
        events = received_events(receiver)
    runs = month._runs()
    month.nights.record(runs)
    # What nightly runs could not afford (a division's day spent) and moved on.
    moved = [e for r in runs if r["trigger"] == "nightly" for e in r["deferred"]]

    findings = Findings()
    for client in clients:
        findings.add_ours(everything[client.client_id])
        CHECKS[client.system](
            stack.sandbox_url, client.books, everything[client.client_id], findings, set()
        )
    findings.add_webhooks(events, [d for docs in everything.values() for d in docs])
    # A document with no sync state for its client's integration was never going to be sent.
    findings.lost += [
        f"{c.system}: {d['number']} has no sync state for its integration"
        for c in clients
        for d in everything[c.client_id]
        if c.integration_id not in {s["integration_id"] for s in d["sync"]}
    ]
    ids = [c.integration_id for c in clients]
    broken = {b.integration_id for b in month.breaks}
    statuses = {i: partner.get(f"/v1/integrations/{i}").json()["status"] for i in ids}
    lapsed = [i for i, s in statuses.items() if s != "active"] + [
        f"{e['data']['integration_id']}: {e['data']['status']} ({e['data']['reason']})"
        for e in events
        if e["type"] == "integration.status_changed"
        and e["data"]["status"] != "active"
        and e["data"]["integration_id"] not in broken
    ]
    served = soak.rate_limited(stack.sandbox_url, [c.books for c in clients if c.system == "exact"])
    blocks = chaos.exact_blocks(stack)
    missed, doubled = month.nights.missed(ids), month.nights.doubled()
    late = [b for b in month.breaks if not b.announced_within(ANNOUNCED_WITHIN)]
    idle = everything[clients[IDLE].client_id]
    elapsed = time.monotonic() - started
    print(
        f"\nsoak ({SIZE.name}): {SIZE.days} simulated days in {elapsed:.0f} s,"
        f" {len(clients)} clients, {month.posted} documents"
        f"\n  end states: {dict(findings.by_status)}"
        f"\n  429s {sum(served.values())} {served}, Exact blocks {len(blocks)},"
        f" connections lapsed {len(lapsed)}"
        f"\n  nightly runs: {sum(sum(n.values()) for n in month.nights.runs.values())} for"
        f" {len(month.nights.passed)} nights x {len(ids)} integrations"
        f" (catch-ups {month.nights.catch_ups}); missed {len(missed)}, twice {len(doubled)},"
        f" still running at the next step {len(month.unfinished_nights)}"
        f"\n  the busy day: {month.waiting_for_the_day} documents waited for Exact's reset"
        f" (daily_limit); moved on by nightly runs: {len(moved)} documents"
        f" ({dict(Counter(e['reason'] for e in moved))})"
        f"\n  breaks: "
        + "; ".join(
            f"{b.what}: webhook after {b.webhook_after}s, notification after"
            f" {b.notification_after}s"
            for b in month.breaks
        )
        + f"\n  lost {len(findings.lost)}, booked twice {len(findings.double_bookings)},"
        f" wrong adoptions {len(findings.wrong_adoptions)}, unsettled {len(findings.unsettled)},"
        f" duplicate webhooks {len(findings.duplicate_webhooks)},"
        f" webhooks missing {len(findings.missing_webhooks)}"
    )
    for name, found in (
        ("lapsed", lapsed),
        ("missed night", missed),
        ("night twice", doubled),
        ("block", blocks),
        ("unsettled", findings.unsettled),
        ("lost", findings.lost),
    ):
        for example in found[:8]:
            print(f"    {name}: {example}")

    assert findings.documents == month.posted
    assert {
        "429s": sum(served.values()),
        "exact blocks": blocks,
        "lapsed": lapsed,
        "nights missed": missed,
        "nights twice": doubled,
        "breaks announced late": [b.what for b in late],
        "lost": findings.lost,
        "booked twice": findings.double_bookings,
        "wrong adoptions": findings.wrong_adoptions,
        "unsettled": findings.unsettled,
        "duplicate webhooks": findings.duplicate_webhooks,
        "webhooks missing": findings.missing_webhooks,
    } == {
        "429s": 0,
        "exact blocks": [],
        "lapsed": [],
        "nights missed": [],
        "nights twice": [],
        "breaks announced late": [],
        "lost": [],
        "booked twice": [],
        "wrong adoptions": [],
        "unsettled": [],
        "duplicate webhooks": [],
        "webhooks missing": [],
    }
    assert len(month.breaks) == 2 and month.nights.catch_ups >= 1
    assert month.waiting_for_the_day > 0, "the busy day did not run out"
    assert [s["status"] for d in idle for s in d["sync"]] == ["booked"] * len(idle) != []


def _missing_webhooks(receiver: Receiver, everything: dict[str, list[dict[str, Any]]]) -> bool:
    check = Findings()
    check.add_webhooks(received_events(receiver), [d for v in everything.values() for d in v])
    return bool(check.missing_webhooks)
