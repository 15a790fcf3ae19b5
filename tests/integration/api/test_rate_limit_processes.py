"""The rate limit across two real API processes (``invoicesync-api``, as `make run` and the
e2e stacks start it) on one database: one key's burst spent across both is refused on both
with the limit's headers, both together let through no more than the shared budget (plus
the documented lease slack), and another key is not affected.

The in-process replicas of test_rate_limits hold the clock still; these run on the
system clock, so the budget counts the refill over the burst's own duration too."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from invoicesync_api.rate_limits import LEASE_SECONDS, Gcra, lease_size
from tests.support.processes import Stack, stack_env
from tests.support.servers import free_port

PER_MINUTE = 120  # two a second: leases of 2 requests (as the defaults lease 10)
BURST = 40
LIMITS = Gcra(PER_MINUTE, BURST)
REQUESTS = 240  # six times the burst: past it on both processes however they interleave
POLICY = f'"default";q={BURST};w={math.ceil(BURST * 60 / PER_MINUTE)}'
pytestmark = pytest.mark.processes


@pytest.fixture(scope="module")
def processes(
    database_url: str, encryption_key: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, list[str]]]:
    """Two API processes on the test database; no broker and no connectors needed."""
    env = stack_env(
        database_url=database_url,
        bootstrap="127.0.0.1:9",  # never dialled: no workers in these processes
        encryption_key=encryption_key,
        extra_env={
            "INVOICESYNC_RUN_WORKERS": "0",
            "INVOICESYNC_RATE_LIMIT_PER_MINUTE": str(PER_MINUTE),
            "INVOICESYNC_RATE_LIMIT_BURST": str(BURST),
        },
    )
    stack = Stack(env=env, log_dir=tmp_path_factory.mktemp("api-processes"))
    urls = []
    try:
        for name in ("api-1", "api-2"):
            port = free_port()
            stack.start(
                name,
                "invoicesync-api",
                f"http://127.0.0.1:{port}/healthz",
                env={
                    "INVOICESYNC_API_PORT": str(port),
                    "INVOICESYNC_API_METRICS_PORT": str(free_port()),
                },
            )
            urls.append(f"http://127.0.0.1:{port}")
        yield stack, urls
    finally:
        stack.stop_all()


def _new_key(stack: Stack, url: str) -> str:
    created = httpx.post(
        f"{url}/admin/v1/partners",
        json={"name": "Limited across processes"},
        headers={"Authorization": f"Bearer {stack.admin_token}"},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["api_key"])


def _remaining(response: httpx.Response) -> int:
    found = re.fullmatch(r'"default";r=(\d+);t=(\d+)', response.headers["RateLimit"])
    assert found, response.headers["RateLimit"]
    return int(found[1])


def test_one_keys_burst_across_two_processes_is_limited_on_both(
    processes: tuple[Stack, list[str]],
) -> None:
    stack, urls = processes
    busy_key, calm_key = _new_key(stack, urls[0]), _new_key(stack, urls[1])
    busy = [httpx.Client(base_url=u, headers={"Authorization": f"Bearer {busy_key}"}) for u in urls]
    calm = [httpx.Client(base_url=u, headers={"Authorization": f"Bearer {calm_key}"}) for u in urls]

    def call(n: int) -> tuple[int, httpx.Response]:
        return n % 2, busy[n % 2].get("/v1/clients")

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(call, range(REQUESTS)))
    elapsed = time.monotonic() - started
    # The other key, on both processes, right after the burst: untouched by it.
    after = [client.get("/v1/clients") for client in calm]
    for client in busy + calm:
        client.close()

    accepted = [r for _, r in answers if r.status_code == 200]
    refused = [(process, r) for process, r in answers if r.status_code == 429]
    assert len(accepted) + len(refused) == REQUESTS, {r.status_code for _, r in answers}
    # The shared budget: the burst plus the refill over the burst's duration; the slack is
    # what the leases allow (spent up to LEASE_SECONDS after their grant, one per process).
    slice_ = lease_size(LIMITS)
    budget = BURST + PER_MINUTE / 60 * (elapsed + LEASE_SECONDS) + 2 * slice_
    assert BURST - 2 * slice_ <= len(accepted) <= budget, (len(accepted), budget, elapsed)
    # Refused on each process, as problem+json with the limit's headers.
    assert {process for process, _ in refused} == {0, 1}
    for _, response in refused:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "rate_limited"
        retry = int(response.headers["Retry-After"])
        assert retry >= 1 and response.json()["retry_after"] == retry
        assert response.headers["RateLimit-Policy"] == POLICY
        assert _remaining(response) == 0
    assert all(r.headers["RateLimit-Policy"] == POLICY for r in accepted)

    assert [r.status_code for r in after] == [200, 200], [r.text for r in after]
    for response in after:
        assert response.headers["RateLimit-Policy"] == POLICY
        assert _remaining(response) >= BURST - 2 * slice_
