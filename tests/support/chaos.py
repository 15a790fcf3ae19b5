"""Chaos helpers: the size of a run, the faults armed in the sandbox, kill -9 and restart of
service processes, and a driver that posts documents as a partner would (retrying with
the same Idempotency-Key while the API is down)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.processes import CONNECTORS, Stack
from tests.support.servers import free_port

SYSTEMS = ("exact", "lexware", "yuki")
FAULT_KINDS = ("http_500", "http_429", "timeout", "drop_response_after_commit")
# Where each system creates a document: the calls a lost response hurts most.
CREATE_PATHS = {
    "exact": r"/salesentry/SalesEntries$",
    "lexware": r"/v1/(invoices|credit-notes)$",
    "yuki": r"/ws/Sales\.asmx",
}


@dataclass(frozen=True)
class ChaosSize:
    """How big a run is: small in ``make test``, full in ``make chaos``."""

    name: str
    documents: int
    clients: int
    faults_per_kind: int  # armed per system and kind, in each of two waves
    settle_seconds: float
    customers_per_client: int = 4

    @classmethod
    def from_env(cls) -> ChaosSize:
        full = os.environ.get("INVOICESYNC_CHAOS_SIZE", "small") == "full"
        size = (
            cls("full", 10_000, 50, 40, 3600.0)
            if full
            else cls("small", 60, 6, 2, 420.0, customers_per_client=3)
        )
        documents = int(os.environ.get("INVOICESYNC_CHAOS_DOCUMENTS", size.documents))
        clients = int(os.environ.get("INVOICESYNC_CHAOS_CLIENTS", size.clients))
        return cls(
            size.name,
            documents,
            clients,
            size.faults_per_kind,
            size.settle_seconds,
            size.customers_per_client,
        )


def system_of(client_index: int) -> str:
    return SYSTEMS[client_index % len(SYSTEMS)]


def arm_fault(
    stack: Stack, system: str, kind: str, count: int, path: str = ".", method: str | None = None
) -> None:
    body: dict[str, Any] = {"system": system, "path_pattern": path, "kind": kind, "count": count}
    if method:
        body["method"] = method
    response = httpx.post(f"{stack.sandbox_url}/_sandbox/faults", json=body)
    assert response.status_code in (200, 201), response.text


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


def connector_health(stack: Stack, system: str, port: str | None = None) -> str:
    port = port or stack.env[f"INVOICESYNC_CONNECTOR_{system.upper()}_PORT"]
    return f"http://127.0.0.1:{port}/readyz"


def start_replica(stack: Stack, system: str) -> str:
    """A second process of a connector (same consumer group); returns its name."""
    name, port = f"{system}-2", str(free_port())
    stack.env[f"_CHAOS_{system.upper()}_REPLICA_PORT"] = port
    stack.start(
        name,
        CONNECTORS[system],
        connector_health(stack, system, port),
        env={f"INVOICESYNC_CONNECTOR_{system.upper()}_PORT": port},
    )
    return name


# A consumer replacing one killed with -9 waits for the broker to drop the dead member
# (session timeout 30 s, then the group's join delay): about 55 s on the wheel broker.
RESTART_SECONDS = 150.0


def kill_and_restart(stack: Stack, *names: str) -> None:
    """kill -9 service processes at once and start them again, as a supervisor would."""
    for name in names:
        stack.kill(name, signal.SIGKILL)
    with ThreadPoolExecutor(len(names)) as pool:
        for future in [pool.submit(_start_again, stack, name) for name in names]:
            future.result()


def _start_again(stack: Stack, name: str) -> None:
    if name == "api":
        stack.start(
            "api", "invoicesync-api", f"{stack.api_url}/healthz", health_timeout=RESTART_SECONDS
        )
        return
    system, _, replica = name.partition("-")
    port = stack.env[f"_CHAOS_{system.upper()}_REPLICA_PORT"] if replica else None
    env = {f"INVOICESYNC_CONNECTOR_{system.upper()}_PORT": port} if port else None
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
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def post_all(self, bodies: list[dict[str, Any]]) -> ThreadPoolExecutor:
        pool = ThreadPoolExecutor(self.threads)
        for chunk in _chunks(bodies, self.threads):
            pool.submit(self._post_chunk, chunk)
        pool.shutdown(wait=False)
        return pool

    def _post_chunk(self, bodies: list[dict[str, Any]]) -> None:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        with httpx.Client(base_url=self.api_url, headers=headers, timeout=30) as http:
            for body in bodies:
                document_id = self._post_one(http, body)
                with self._lock:
                    self.posted.append(document_id)

    def _post_one(self, http: httpx.Client, body: dict[str, Any]) -> str:
        deadline = time.monotonic() + 180
        key = {"Idempotency-Key": f"chaos-{body['number']}"}
        while True:
            try:
                response = http.post("/v1/invoices", json=body, headers=key)
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
