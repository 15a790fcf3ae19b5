"""Rate limits per API key and the slow-down of failed authentication, over HTTP on
PostgreSQL: two app instances on one database are two replicas sharing every bucket.

Time is the shared clock, held still by the tests and moved on by hand: nothing sleeps, and
a bucket refills only when a test says so. Each test speaks from a loopback address of its
own (127.x.y.z), so the address buckets of one test never meet another's."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from invoicesync_api.api_keys.service import hash_key
from invoicesync_api.app import create_app
from invoicesync_api.rate_limits import LEASE_SECONDS
from invoicesync_api.settings import ApiSettings
from invoicesync_shared import clock
from tests.integration.api.conftest import ADMIN_TOKEN
from tests.support.servers import serve_in_thread

PER_MINUTE = 60  # one request a second
BURST = 5
FAILURES_PER_MINUTE = 6  # one failure every 10 s
FAILURE_BURST = 3
POLICY = f'"default";q={BURST};w={BURST}'


class HeldClock:
    """Stands still until moved."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def now(self) -> datetime:
        return self.at

    def move(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def held() -> Iterator[HeldClock]:
    held = HeldClock()
    clock.use(held)
    try:
        yield held
    finally:
        clock.use(clock.SystemClock())


def _settings(database_url: str, encryption_key: str) -> ApiSettings:
    return ApiSettings(
        database_url=SecretStr(database_url),
        encryption_keys=SecretStr(encryption_key),
        admin_token=SecretStr(ADMIN_TOKEN),
        run_workers=False,
        rate_limit_per_minute=PER_MINUTE,
        rate_limit_burst=BURST,
        auth_failures_per_minute=FAILURES_PER_MINUTE,
        auth_failures_burst=FAILURE_BURST,
    )


@pytest.fixture(scope="module")
def replicas(database_url: str, encryption_key: str) -> Iterator[tuple[str, str]]:
    """Two API replicas on one database."""
    with (
        serve_in_thread(create_app(_settings(database_url, encryption_key))) as first,
        serve_in_thread(create_app(_settings(database_url, encryption_key))) as second,
    ):
        yield first, second


def _address() -> str:
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"


@pytest.fixture
def address() -> str:
    """A loopback address of this test's own."""
    return _address()


def _http(url: str, address: str, key: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=url, transport=transport, headers=headers, timeout=30)


def _new_key(url: str) -> str:
    created = httpx.post(
        f"{url}/admin/v1/partners",
        json={"name": "Limited"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["api_key"])


def _limit(response: httpx.Response) -> tuple[int, int]:
    """RateLimit's remaining and reset."""
    found = re.fullmatch(r'"default";r=(\d+);t=(\d+)', response.headers["RateLimit"])
    assert found, response.headers["RateLimit"]
    return int(found[1]), int(found[2])


def test_a_key_past_its_burst_is_429_with_the_headers(
    replicas: tuple[str, str], held: HeldClock, address: str
) -> None:
    url = replicas[0]
    with _http(url, address, _new_key(url)) as partner:
        answers = [partner.get("/v1/clients") for _ in range(BURST)]
        assert [a.status_code for a in answers] == [200] * BURST
        assert {a.headers["RateLimit-Policy"] for a in answers} == {POLICY}
        assert [_limit(a) for a in answers] == [(BURST - 1 - n, n + 1) for n in range(BURST)]

        refused = partner.get("/v1/clients")
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "rate_limited"
        assert refused.json()["retry_after"] == 1
        assert refused.headers["Retry-After"] == "1"
        assert refused.headers["RateLimit-Policy"] == POLICY
        assert _limit(refused) == (0, 1)
        # Refused requests cost nothing: after the second one request fits again.
        held.move(1)
        assert partner.get("/v1/clients").status_code == 200


def test_another_key_is_not_limited_by_the_first(
    replicas: tuple[str, str], held: HeldClock, address: str
) -> None:
    url = replicas[0]
    with _http(url, address, _new_key(url)) as busy, _http(url, address, _new_key(url)) as calm:
        for _ in range(BURST):
            busy.get("/v1/clients")
        assert busy.get("/v1/clients").status_code == 429
        answer = calm.get("/v1/clients")
        assert answer.status_code == 200
        assert _limit(answer) == (BURST - 1, 1)


def test_replicas_share_one_bucket_per_key(
    replicas: tuple[str, str], held: HeldClock, address: str
) -> None:
    key = _new_key(replicas[0])
    with _http(replicas[0], address, key) as first, _http(replicas[1], address, key) as second:
        statuses = [(first if n % 2 else second).get("/v1/clients").status_code for n in range(8)]
        assert statuses == [200] * BURST + [429] * 3
        for replica in (first, second):
            refused = replica.get("/v1/clients")
            assert refused.status_code == 429
            assert refused.headers["Retry-After"] == "1"
            assert refused.headers["RateLimit-Policy"] == POLICY
            assert _limit(refused) == (0, 1)


def test_a_burst_at_once_on_both_replicas_gets_exactly_the_burst(
    replicas: tuple[str, str], held: HeldClock, address: str
) -> None:
    """Forty requests at the same moment, half on each replica: the bucket is moved under
    its row lock, so exactly the burst gets through, however the requests interleave."""
    key = _new_key(replicas[0])
    with _http(replicas[0], address, key) as first, _http(replicas[1], address, key) as second:

        def call(n: int) -> int:
            return (first if n % 2 else second).get("/v1/clients").status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(call, range(40)))
    assert sorted(statuses) == [200] * BURST + [429] * (40 - BURST)


def test_the_bucket_refills_with_time(
    replicas: tuple[str, str], held: HeldClock, address: str
) -> None:
    url = replicas[0]
    with _http(url, address, _new_key(url)) as partner:
        for _ in range(BURST):
            partner.get("/v1/clients")
        assert partner.get("/v1/clients").status_code == 429
        held.move(2.0)  # two requests' worth at one a second
        assert [partner.get("/v1/clients").status_code for _ in range(3)] == [200, 200, 429]
        held.move(BURST)  # full again
        answers = [partner.get("/v1/clients") for _ in range(BURST + 1)]
        assert [a.status_code for a in answers] == [200] * BURST + [429]


def test_failed_authentication_is_slowed_the_same_for_unknown_wrong_and_valid_keys(
    replicas: tuple[str, str], held: HeldClock, address: str
) -> None:
    url = replicas[0]
    valid = _new_key(url)
    wrong = valid[:-4] + ("aaaa" if not valid.endswith("aaaa") else "bbbb")
    unknown = "isk_" + "x" * 43
    for n in range(FAILURE_BURST):
        with _http(url, address, wrong if n % 2 else unknown) as caller:
            assert caller.get("/v1/clients").status_code == 401
    answers = {}
    for name, key in (("unknown", unknown), ("wrong", wrong), ("valid", valid)):
        with _http(replicas[1], address, key) as caller:
            answers[name] = caller.get("/v1/clients")
    # Past the failures: the same answer whatever the key, so it tells nothing about keys.
    assert {a.status_code for a in answers.values()} == {429}
    assert len({a.text for a in answers.values()}) == 1
    assert len({a.headers["Retry-After"] for a in answers.values()}) == 1
    assert all("RateLimit" not in a.headers for a in answers.values())
    assert answers["valid"].json()["code"] == "rate_limited"
    # Another address is not slowed down, and this one recovers with time.
    with _http(url, _address(), valid) as elsewhere:
        assert elsewhere.get("/v1/clients").status_code == 200
    held.move(int(answers["valid"].headers["Retry-After"]))
    with _http(url, address, valid) as caller:
        assert caller.get("/v1/clients").status_code == 200


def test_admin_and_probes_are_not_limited(
    replicas: tuple[str, str], held: HeldClock, address: str
) -> None:
    url = replicas[0]
    with _http(url, address, ADMIN_TOKEN) as admin:
        statuses = {admin.get("/admin/v1/partners").status_code for _ in range(BURST * 2)}
        assert statuses == {200}
        assert "RateLimit" not in admin.get("/admin/v1/partners").headers
    with _http(url, address) as probe:
        assert {probe.get("/healthz").status_code for _ in range(BURST * 2)} == {200}


@pytest.mark.parametrize(
    ("per_minute", "failures_per_minute"), [(0, 0), (0, FAILURES_PER_MINUTE), (PER_MINUTE, 0)]
)
def test_limits_set_to_zero_are_off(
    database_url: str,
    encryption_key: str,
    held: HeldClock,
    address: str,
    per_minute: int,
    failures_per_minute: int,
) -> None:
    settings = _settings(database_url, encryption_key).model_copy(
        update={
            "rate_limit_per_minute": per_minute,
            "auth_failures_per_minute": failures_per_minute,
        }
    )
    with serve_in_thread(create_app(settings)) as url, _http(url, address, _new_key(url)) as key:
        answers = [key.get("/v1/clients") for _ in range(BURST * 2)]
        statuses = [a.status_code for a in answers]
        if per_minute:
            assert statuses == [200] * BURST + [429] * BURST
        else:
            assert statuses == [200] * BURST * 2
            assert all("RateLimit" not in a.headers for a in answers)
        with _http(url, address, "isk_unknown") as guesser:
            statuses = [guesser.get("/v1/clients").status_code for _ in range(5)]
    if failures_per_minute:
        assert statuses == [401] * FAILURE_BURST + [429] * (5 - FAILURE_BURST)
    else:
        assert statuses == [401] * 5


def test_a_clock_set_back_locks_no_key_and_no_address_out(
    replicas: tuple[str, str], held: HeldClock, address: str
) -> None:
    """Buckets filled while the clock ran a day ahead (a replica's clock, a clock set back)
    are further ahead than any request of this clock could put them: they start full."""
    first, _ = replicas
    key = _new_key(first)
    held.move(86_400)
    with _http(first, address, key) as http:
        while http.get("/v1/clients").status_code != 429:
            pass
    with _http(first, address, "isk_wrong") as wrong:
        while wrong.get("/v1/clients").status_code != 429:
            pass
    held.move(-86_400)
    with _http(first, address, key) as http:
        answer = http.get("/v1/clients")
    assert answer.status_code == 200, answer.text
    assert _limit(answer)[0] == BURST - 1


# Leases: at a rate where a replica takes a slice of the bucket at a time.

LEASED_PER_MINUTE = 6000  # 100 a second
LEASED_BURST = 200
SLICE = 20  # a tenth of the burst (and under a second's worth)


@pytest.fixture(scope="module")
def leased(database_url: str, encryption_key: str) -> Iterator[tuple[str, str]]:
    """Two API replicas on one database whose key limit is high enough for leases."""
    settings = _settings(database_url, encryption_key).model_copy(
        update={"rate_limit_per_minute": LEASED_PER_MINUTE, "rate_limit_burst": LEASED_BURST}
    )
    with (
        serve_in_thread(create_app(settings)) as first,
        serve_in_thread(create_app(settings)) as second,
    ):
        yield first, second


def _row_tat(database_url: str, key: str) -> float | None:
    """The shared row's time for ``key``."""

    async def read() -> float | None:
        conn = await asyncpg.connect(database_url)
        try:
            value = await conn.fetchval(
                "SELECT b.tat FROM api_key_rate_limits b JOIN api_keys k ON k.id = b.key_id"
                " WHERE k.key_hash = $1",
                hash_key(key),
            )
        finally:
            await conn.close()
        return None if value is None else float(value)

    return asyncio.run(read())


def test_a_replica_moves_the_shared_row_once_per_slice(
    leased: tuple[str, str], held: HeldClock, address: str, database_url: str
) -> None:
    url = leased[0]
    key = _new_key(url)
    now = (held.at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    interval = 60_000_000 // LEASED_PER_MINUTE  # microseconds, as the row keeps time
    with _http(url, address, key) as partner:
        answers = [partner.get("/v1/clients") for _ in range(SLICE)]
        assert [a.status_code for a in answers] == [200] * SLICE
        # One slice taken at the first request, spent by the next ones without a write.
        assert _row_tat(database_url, key) == now + SLICE * interval
        # The headers count what the replica holds: as exact as without leases.
        assert [_limit(a)[0] for a in answers] == [LEASED_BURST - 1 - n for n in range(SLICE)]
        assert partner.get("/v1/clients").status_code == 200
        assert _row_tat(database_url, key) == now + 2 * SLICE * interval


def test_leased_replicas_together_get_exactly_the_bucket(
    leased: tuple[str, str], held: HeldClock, address: str
) -> None:
    """Requests at once on both replicas: each spends only what it took from the row, so
    together they never get more than the burst; a replica left holding part of a slice
    when the row runs dry (at most a slice less than one) spends it on its next requests."""
    key = _new_key(leased[0])
    with _http(leased[0], address, key) as first, _http(leased[1], address, key) as second:

        def call(n: int) -> int:
            return (first if n % 2 else second).get("/v1/clients").status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(call, range(LEASED_BURST + 40)))
        at_once = statuses.count(200)
        assert LEASED_BURST - 2 * (SLICE - 1) <= at_once <= LEASED_BURST
        assert set(statuses) == {200, 429}
        later = 0
        for replica in (first, second):
            while (answer := replica.get("/v1/clients")).status_code == 200:
                later += 1
            assert answer.status_code == 429
            assert answer.headers["Retry-After"] == "1"
        assert at_once + later == LEASED_BURST


def test_a_lease_not_spent_in_time_is_dropped(
    leased: tuple[str, str], held: HeldClock, address: str
) -> None:
    """Replica one takes a slice and goes quiet past the lease's life: the rest of its
    slice is not spent later on top of what the bucket gives the other replica."""
    key = _new_key(leased[0])
    with _http(leased[0], address, key) as first, _http(leased[1], address, key) as second:
        assert first.get("/v1/clients").status_code == 200  # a slice taken, one spent
        held.move(LEASE_SECONDS)  # the bucket refills past full meanwhile
        statuses = [second.get("/v1/clients").status_code for _ in range(LEASED_BURST + 1)]
        assert statuses == [200] * LEASED_BURST + [429]
        assert first.get("/v1/clients").status_code == 429


def test_a_key_revoked_during_a_lease_is_refused_at_once(
    leased: tuple[str, str], held: HeldClock, address: str
) -> None:
    url = leased[0]
    created = httpx.post(
        f"{url}/admin/v1/partners",
        json={"name": "Leased"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    with _http(url, address, created.json()["api_key"]) as partner:
        assert partner.get("/v1/clients").status_code == 200  # the replica holds a lease
        revoked = httpx.delete(
            f"{url}/admin/v1/partners/{created.json()['id']}/api-keys",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert revoked.status_code == 204
        assert partner.get("/v1/clients").status_code == 401


def test_requests_at_once_on_a_replica_share_one_new_lease(
    leased: tuple[str, str], held: HeldClock, address: str, database_url: str
) -> None:
    """Requests that find no lease wait for the one being taken instead of each taking a
    slice, which would strand slices on this replica while the others are refused."""
    url = leased[0]
    key = _new_key(url)
    now = (held.at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    with _http(url, address, key) as partner, ThreadPoolExecutor(max_workers=SLICE) as pool:
        statuses = list(pool.map(lambda _: partner.get("/v1/clients").status_code, range(SLICE)))
    assert statuses == [200] * SLICE
    assert _row_tat(database_url, key) == now + SLICE * 60_000_000 // LEASED_PER_MINUTE
