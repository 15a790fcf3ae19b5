"""Chaos helpers: the size of a run, the faults armed in the sandbox, kill -9 and restart of
service processes, and a driver that posts documents as a partner would (retrying with
the same Idempotency-Key while the API is down)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import CONNECTORS, Stack
from tests.support.servers import free_port

SYSTEMS = ("exact", "lexware", "yuki")
FAULT_KINDS = (
    "http_500",
    "http_429",
    "timeout",
    "drop_response_after_commit",
    "drop_response_visible_late",
)
# Where Exact answers a token refresh: a lost answer there spends the refresh token.
EXACT_TOKEN_PATH = r"/oauth2/token$"
# A write that commits only this long after its answer was lost (the sandbox's
# ``drop_response_visible_late``): longer than a connector's quick look-up after a timeout.
VISIBLE_LATE_SECONDS = 8
# One connector replica runs with its clock this far ahead (libfaketime).
SKEW = "+2m"
LIBFAKETIME = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/faketime/libfaketimeMT.so.1",
    "/usr/local/lib/faketime/libfaketimeMT.so.1",
)
# The environment each extra replica was started with, so a restart keeps it.
REPLICA_ENV: dict[str, dict[str, str]] = {}
# Where each system creates a document: the calls a lost response hurts most.
CREATE_PATHS = {
    "exact": r"/salesentry/SalesEntries$",
    "lexware": r"/v1/(invoices|credit-notes)$",
    "yuki": r"/ws/Sales\.asmx",
}

# Where purchase documents are written: an Exact entry and its filed document, a Yuki upload
# (Archive.asmx also answers the marker searches: a lost search answer is a fault too).
PURCHASE_PATHS = (
    ("exact", r"/purchaseentry/PurchaseEntries$"),
    ("exact", r"/documents/Documents$"),
    ("yuki", r"/ws/Archive\.asmx"),
)


@dataclass(frozen=True)
class ChaosSize:
    """How big a run is: small in ``make test``, full in ``make chaos``."""

    name: str
    documents: int
    clients: int
    faults_per_kind: int  # armed per system and kind, in each of two waves
    settle_seconds: float
    customers_per_client: int = 4
    # The first documents of each client reuse numbers the books already hold: last
    # year's entry for each, one typed by hand for every second, a twin for every fourth.
    traps_per_client: int = 12
    credit_notes: int = 25  # reusing invoice numbers, in the one-journal Exact division
    purchases: int = (
        400  # purchase invoices, receipts and credit notes with files, during the chaos
    )
    visible_late_per_system: int = 8
    refresh_losses_per_expiry: int = 12  # two expiries in a run
    rate_limit_window_seconds: float = 150.0  # Exact at 2 calls/minute per division

    @classmethod
    def from_env(cls) -> ChaosSize:
        full = os.environ.get("INVOICESYNC_CHAOS_SIZE", "small") == "full"
        size = (
            cls("full", 10_000, 50, 40, 3600.0)
            if full
            else cls(
                "small",
                60,
                6,
                2,
                420.0,
                customers_per_client=3,
                traps_per_client=4,
                credit_notes=2,
                purchases=16,
                visible_late_per_system=1,
                refresh_losses_per_expiry=1,
                rate_limit_window_seconds=30.0,
            )
        )
        return replace(
            size,
            documents=int(os.environ.get("INVOICESYNC_CHAOS_DOCUMENTS", size.documents)),
            clients=int(os.environ.get("INVOICESYNC_CHAOS_CLIENTS", size.clients)),
        )


def system_of(client_index: int) -> str:
    return SYSTEMS[client_index % len(SYSTEMS)]


def arm_fault(
    stack: Stack,
    system: str,
    kind: str,
    count: int,
    path: str = ".",
    method: str | None = None,
    **extra: Any,
) -> bool:
    """Arm ``count`` faults; False when the sandbox does not know the kind (a 422 naming
    it), so a plan can note a fault it could not inject instead of failing to start."""
    body: dict[str, Any] = {
        "system": system,
        "path_pattern": path,
        "kind": kind,
        "count": count,
        **extra,
    }
    if method:
        body["method"] = method
    response = httpx.post(f"{stack.sandbox_url}/_sandbox/faults", json=body)
    if response.status_code == 422 and kind in response.text:
        return False
    assert response.status_code in (200, 201), response.text
    return True


def arm_visible_late(stack: Stack, count: int, path_of: dict[str, str] | None = None) -> bool:
    """Creates whose answer is lost and that become visible only seconds later, on every
    system; False if the sandbox lacks the fault kind ``drop_response_visible_late``."""
    armed = [
        arm_fault(
            stack,
            system,
            "drop_response_visible_late",
            count,
            (path_of or CREATE_PATHS)[system],
            method="POST",
            delay_seconds=VISIBLE_LATE_SECONDS,
        )
        for system in SYSTEMS
    ]
    return all(armed)


def lose_refresh_answers(stack: Stack, count: int) -> None:
    """Exact commits the refresh (the old refresh token is spent) and the answer is lost."""
    arm_fault(stack, "exact", "drop_response_after_commit", count, EXACT_TOKEN_PATH, "POST")


def lose_create_answers_in_division(stack: Stack, division: str, count: int) -> None:
    """Lost answers on the creates of one Exact division (its code is in the path), so
    the look-up that follows runs against that division's look-alike entries."""
    path = rf"/api/v1/{division}/salesentry/SalesEntries$"
    arm_fault(stack, "exact", "drop_response_after_commit", count, path, "POST")


def lose_purchase_answers(stack: Stack, count: int) -> None:
    """Writes of purchase documents that commit and lose their answer: the retry must
    find the entry or the upload by our reference or marker, not write it again."""
    for system, path in PURCHASE_PATHS:
        arm_fault(stack, system, "drop_response_after_commit", count, path, "POST")


def set_exact_minutely_limit(stack: Stack, limit: int) -> None:
    response = httpx.put(
        f"{stack.sandbox_url}/_sandbox/exact/limits", json={"minutely_limit": limit}
    )
    assert response.status_code == 200, response.text


def skewed_clock_env() -> dict[str, str] | None:
    """The environment that runs a process with its clock two minutes ahead (libfaketime;
    monotonic time stays real, so timeouts and sleeps are unchanged). None, said loudly,
    only when libfaketime is not installed (``apt-get install faketime``; .ci/run does)."""
    library = next((path for path in LIBFAKETIME if Path(path).exists()), None)
    if library is None:
        message = (
            "CHAOS: libfaketime is not installed (apt-get install faketime): the connector "
            "replica with a clock two minutes off is NOT part of this run"
        )
        warnings.warn(message, stacklevel=2)
        print(f"\n!!! {message} !!!", file=sys.stderr)
        return None
    return {"LD_PRELOAD": library, "FAKETIME": SKEW, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


def arm_fault_wave(stack: Stack, per_kind: int) -> None:
    """Every kind of fault on every system; lost responses on the create calls."""
    for system in SYSTEMS:
        for kind in ("http_500", "timeout"):
            arm_fault(stack, system, kind, per_kind)
        arm_fault(stack, system, "drop_response_after_commit", per_kind, CREATE_PATHS[system])


def rate_limit_storm(stack: Stack, per_kind: int) -> None:
    for system in SYSTEMS:
        arm_fault(stack, system, "http_429", per_kind * 5)


def expire_all_tokens(stack: Stack) -> None:
    """Exact and Lexware access tokens and Yuki sessions all expire now."""
    sandbox = stack.sandbox_url
    exact = httpx.post(
        f"{sandbox}/_sandbox/exact/tokens/expire", json={"client_id": "invoicesync-dev"}
    )
    lexware = httpx.post(f"{sandbox}/_sandbox/lexware/tokens/expire", json={})
    yuki = httpx.post(f"{sandbox}/_sandbox/yuki/sessions/expire", json={})
    for response in (exact, lexware, yuki):
        assert response.status_code == 200, response.text


def faults_fired(stack: Stack) -> dict[str, int]:
    return dict(httpx.get(f"{stack.sandbox_url}/_sandbox/faults").json()["fired"])


def overdue_pushes(stack: Stack) -> list[str]:
    """Pushes the connectors stopped at their deadline, each as ``process: where it
    hung`` (the innermost awaited frame), from the processes' JSON logs."""
    found = []
    for path in sorted(stack.log_dir.glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if '"push overdue' not in line:
                continue
            with contextlib.suppress(ValueError):
                awaiting = json.loads(line).get("awaiting") or []
                # The innermost frame of our code (past it: a bare future).
                frames = [frame for frame in awaiting if ".py:" in frame] or ["?"]
                found.append(f"{path.stem}: {frames[-1]}")
    return found


def exact_blocks(stack: Stack) -> list[str]:
    """Each hour-long block the Exact sandbox imposed (our error brake should prevent
    every one), with the errors that caused it, counted by answer and call."""
    blocks = httpx.get(f"{stack.sandbox_url}/_sandbox/exact/limits").json()["blocks"]
    found = []
    for block in blocks:
        calls = Counter(
            f"{e['status']} {re.sub(r'[(][^)]*[)]', '(…)', e['call'])}" for e in block["errors"]
        )
        first = min(e["at"] for e in block["errors"])
        found.append(
            f"division {block['division']} {block['endpoint']} at {block['at']} "
            f"(errors since {first}): {dict(calls)}"
        )
    return found


def connector_health(stack: Stack, system: str, port: str | None = None) -> str:
    port = port or stack.env[f"INVOICESYNC_CONNECTOR_{system.upper()}_PORT"]
    return f"http://127.0.0.1:{port}/readyz"


def start_replica(stack: Stack, system: str, env: dict[str, str] | None = None) -> str:
    """A second process of a connector (same consumer group), with ``env`` on top of the
    stack's (kept for its restarts); returns its name."""
    name, port = f"{system}-2", str(free_port())
    stack.env[f"_CHAOS_{system.upper()}_REPLICA_PORT"] = port
    REPLICA_ENV[name] = {**(env or {}), f"INVOICESYNC_CONNECTOR_{system.upper()}_PORT": port}
    stack.start(name, CONNECTORS[system], connector_health(stack, system, port), REPLICA_ENV[name])
    return name


# A consumer replacing one killed with -9 waits for the broker to drop the dead member
# (the test stacks' session timeout, 10 s, then the join the wheel broker holds for half
# of it): about 15 s; the bound leaves room for a loaded machine and the production 30 s.
RESTART_SECONDS = 150.0


def kill_and_restart(stack: Stack, *names: str) -> None:
    """kill -9 service processes at once and start them again, as a supervisor would."""
    for name in names:
        stack.kill(name, signal.SIGKILL)
    with ThreadPoolExecutor(len(names)) as pool:
        for future in [pool.submit(start_again, stack, name) for name in names]:
            future.result()


def start_again(stack: Stack, name: str) -> None:
    """Start a stopped process of the stack again, as a supervisor would."""
    if name == "api":
        stack.start(
            "api", "invoicesync-api", f"{stack.api_url}/healthz", health_timeout=RESTART_SECONDS
        )
        return
    system, _, replica = name.partition("-")
    port = stack.env[f"_CHAOS_{system.upper()}_REPLICA_PORT"] if replica else None
    env = REPLICA_ENV.get(name)
    stack.start(
        name,
        CONNECTORS[system],
        connector_health(stack, system, port),
        env=env,
        health_timeout=RESTART_SECONDS,
    )


@dataclass
class Poster:
    """Posts documents from a few threads; each retries with its Idempotency-Key until
    the API answers 201, so an API crash mid-request neither loses nor doubles one."""

    api_url: str
    api_key: str
    threads: int = 4
    posted: list[str] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)  # external id → document id
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def post_all(self, bodies: list[dict[str, Any]], path: str | None = None) -> ThreadPoolExecutor:
        """``path``: the collection, if not invoices or credit notes (by ``credit_note_for``)."""
        pool = ThreadPoolExecutor(self.threads)
        for chunk in _chunks(bodies, self.threads):
            pool.submit(self._post_chunk, chunk, path)
        pool.shutdown(wait=False)
        return pool

    def _post_chunk(self, bodies: list[dict[str, Any]], path: str | None) -> None:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        with httpx.Client(base_url=self.api_url, headers=headers, timeout=30) as http:
            for body in bodies:
                document_id = self._post_one(http, body, path)
                with self._lock:
                    self.posted.append(document_id)
                    self.ids[body["external_id"]] = document_id

    def _post_one(self, http: httpx.Client, body: dict[str, Any], path: str | None) -> str:
        deadline = time.monotonic() + 180
        key = {"Idempotency-Key": f"chaos-{body['external_id']}"}
        path = path or ("/v1/credit-notes" if "credit_note_for" in body else "/v1/invoices")
        while True:
            try:
                response = http.post(path, json=body, headers=key)
                if response.status_code == 201:
                    return str(response.json()["id"])
                # 409: the first attempt is still in flight; 5xx/503: the API restarts.
                assert response.status_code == 409 or response.status_code >= 500, response.text
            except httpx.TransportError:
                pass
            with self._lock:
                self.retries += 1
            assert time.monotonic() < deadline, f"could not post {body['number']}"
            time.sleep(0.2)


def _chunks(items: list[dict[str, Any]], n: int) -> Iterator[list[dict[str, Any]]]:
    for i in range(n):
        yield items[i::n]


class Reconnector:
    """The user who, told that a connection needs them (the `integration.status_changed`
    webhook), connects it again: `POST /v1/integrations/{id}/reconnect`, then the consent
    page. An attempt that meets a restarting API is made again on the next round."""

    def __init__(self, partner: httpx.Client, received: Any) -> None:
        self._partner = partner
        self._received = received  # the webhook receiver's list of requests
        self._seen = 0
        self._waiting: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.reconnected = 0
        self.announced = 0

    def __enter__(self) -> Reconnector:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._collect()
            for integration_id in sorted(self._waiting):
                if self._reconnect(integration_id):
                    self._waiting.discard(integration_id)
                    self.reconnected += 1

    def _collect(self) -> None:
        fresh = self._received[self._seen :]
        self._seen += len(fresh)
        for received in fresh:
            event = json.loads(received.body)
            if event.get("type") != "integration.status_changed":
                continue
            if event["data"]["status"] == "needs_reauthorization":
                self.announced += 1
                self._waiting.add(str(event["data"]["integration_id"]))

    def _reconnect(self, integration_id: str) -> bool:
        try:
            shown = self._partner.get(f"/v1/integrations/{integration_id}")
            if shown.status_code == 200 and shown.json()["status"] == "active":
                return True  # connected again already (an earlier round's callback)
            started = self._partner.post(f"/v1/integrations/{integration_id}/reconnect")
            if started.status_code != 200:
                return False
            callback = httpx.get(started.json()["authorize_url"], follow_redirects=True, timeout=60)
            return callback.status_code == 200 and callback.json()["status"] == "active"
        except (httpx.HTTPError, ValueError, KeyError):
            return False
