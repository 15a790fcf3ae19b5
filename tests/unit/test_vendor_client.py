"""The shared vendor client against ``httpx.MockTransport``: the bearer token and its one
refresh on a 401, a refused grant, the pacing around each request, the injected
classification, and what a lost exchange means."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client import REGISTRY

from invoicesync_shared.connectors.call_count import counting
from invoicesync_shared.connectors.errors import (
    AuthorizationLost,
    Deferred,
    PermanentError,
    RateLimited,
    SyncError,
    TransientError,
    UnknownOutcome,
)
from invoicesync_shared.connectors.retry_after import retry_after
from invoicesync_shared.connectors.vendor_client import (
    Call,
    Observe,
    ScopePacing,
    VendorClient,
)

INTEGRATION = uuid.uuid4()
ISSUED = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
URL = "https://vendor.test/api/things"


class FakeTokens:
    """A token store holding the grant of INTEGRATION alone: ``stored`` is handed out; a
    refresh replaces it with ``fresh``, the next with ``fresh-2``."""

    def __init__(self, refusal: SyncError | None = None) -> None:
        self.stored = "stale"
        self.refusal = refusal
        self.refreshed_for: list[str | None] = []

    @staticmethod
    def _granted(integration_id: uuid.UUID) -> None:
        if integration_id != INTEGRATION:
            raise AuthorizationLost(f"no grant for {integration_id}")

    async def access_token(self, integration_id: uuid.UUID) -> str:
        self._granted(integration_id)
        if isinstance(self.refusal, AuthorizationLost):
            raise self.refusal  # a grant refused before: no token at all
        return self.stored

    async def renew(self, integration_id: uuid.UUID, *, failed_token: str) -> tuple[str, bool]:
        self._granted(integration_id)
        self.refreshed_for.append(failed_token)
        if self.refusal is not None:
            raise self.refusal
        renewals = len(self.refreshed_for)
        self.stored = "fresh" if renewals == 1 else f"fresh-{renewals}"
        return self.stored, True

    async def issued_at(self, integration_id: uuid.UUID) -> datetime | None:
        return ISSUED if integration_id == INTEGRATION else None

    async def stored_token(self, integration_id: uuid.UUID) -> tuple[str, datetime | None] | None:
        return (self.stored, ISSUED) if integration_id == INTEGRATION else None


class ReplacedTokens(FakeTokens):
    """Each renewal hands over a token another replica got, replaced again at once."""

    def __init__(self) -> None:
        super().__init__()
        self.handed = iter(["fresh", "newer"])

    async def renew(self, integration_id: uuid.UUID, *, failed_token: str) -> tuple[str, bool]:
        self.refreshed_for.append(failed_token)
        self.stored = next(self.handed)
        return self.stored, False

    async def stored_token(self, integration_id: uuid.UUID) -> tuple[str, datetime | None] | None:
        return ("replaced", ISSUED)


class Server:
    """Answers by the bearer token: ``answers[token]`` in turn, else 200; streamed, as a
    network's answers are (their bodies are not read yet)."""

    def __init__(self, **answers: list[httpx.Response]) -> None:
        self.answers = answers
        self.tokens: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        self.tokens.append(token)
        queued = self.answers.get(token)
        answer = queued.pop(0) if queued else httpx.Response(200, json={"ok": True})
        return httpx.Response(
            answer.status_code, headers=answer.headers, stream=httpx.ByteStream(answer.content)
        )


class RecordingPacer:
    def __init__(self) -> None:
        self.scopes: list[str] = []

    async def acquire(self, scope: str) -> None:
        self.scopes.append(scope)


class RecordingPacing:
    """Admits or refuses a call, and records each request's answer and its decision."""

    def __init__(self, refuse: SyncError | None = None) -> None:
        self.refuse = refuse
        self.admitted: list[Call] = []
        self.seen: list[tuple[int, type[SyncError] | None]] = []

    async def admit(self, call: Call) -> None:
        self.admitted.append(call)
        if self.refuse is not None:
            raise self.refuse

    @contextlib.asynccontextmanager
    async def attempt(self, call: Call) -> AsyncIterator[Observe]:
        def observe(response: httpx.Response, failure: SyncError | None) -> None:
            self.seen.append((response.status_code, type(failure) if failure else None))

        yield observe


def classify(response: httpx.Response, call: Call) -> SyncError | None:
    """A system that says why in its body, and when to come back on a 429."""
    status = response.status_code
    if status < 300:
        return None
    if status == 429:
        return RateLimited("slow down", retry_after=retry_after(response))
    if status == 403:
        return AuthorizationLost(response.json()["why"])
    if status >= 500:
        return UnknownOutcome("5xx on a write") if call.is_write else TransientError("5xx")
    return PermanentError("rejected", response.json()["why"])


def client(
    server: Server | httpx.MockTransport,
    tokens: FakeTokens,
    pacing: RecordingPacing | ScopePacing | None = None,
) -> VendorClient:
    transport = server if isinstance(server, httpx.MockTransport) else httpx.MockTransport(server)
    return VendorClient(
        httpx.AsyncClient(transport=transport),
        tokens,
        system="unit",
        name="Vendor",
        classify=classify,
        pacing=pacing,
    )


def call(method: str = "GET") -> Call:
    return Call(INTEGRATION, method, URL, scope="org-1", endpoint="things")


def unauthorized() -> httpx.Response:
    return httpx.Response(401, json={"why": "expired"})


class TestBearerToken:
    async def test_the_stored_token_is_sent_and_a_success_returned(self) -> None:
        server, tokens = Server(), FakeTokens()

        response = await client(server, tokens).send(call())

        assert response.json() == {"ok": True}
        assert server.tokens == ["stale"] and tokens.refreshed_for == []

    async def test_a_401_refreshes_once_retiring_the_refused_token_and_tries_again(
        self,
    ) -> None:
        server, tokens = Server(stale=[unauthorized()]), FakeTokens()

        response = await client(server, tokens).send(call("POST"), json={"n": 1})

        assert response.status_code == 200
        assert server.tokens == ["stale", "fresh"]
        assert tokens.refreshed_for == ["stale"]  # the store retires it if no new one comes

    async def test_a_token_just_refreshed_and_refused_is_renewed_once_more(self) -> None:
        """The soak's race: the token endpoint's token is expired by the time it arrives
        (a calendar moved between the refresh and the send). No verdict on the grant."""
        server = Server(stale=[unauthorized()], fresh=[unauthorized()])
        tokens = FakeTokens()

        response = await client(server, tokens).send(call("POST"), json={"n": 1})

        assert response.status_code == 200
        assert server.tokens == ["stale", "fresh", "fresh-2"]
        assert tokens.refreshed_for == ["stale", "fresh"]

    async def test_two_refreshed_tokens_refused_are_a_lost_connection(self) -> None:
        server = Server(
            stale=[unauthorized()], fresh=[unauthorized()], **{"fresh-2": [unauthorized()]}
        )
        tokens = FakeTokens()

        with pytest.raises(AuthorizationLost) as lost:
            await client(server, tokens).send(call())

        assert server.tokens == ["stale", "fresh", "fresh-2"]  # no fourth try
        assert tokens.refreshed_for == ["stale", "fresh"]
        assert lost.value.status == "needs_reauthorization"
        assert "Vendor" in lost.value.message
        assert lost.value.credentials_issued_at == ISSUED  # the tokens that were refused

    async def test_tokens_replaced_under_every_try_are_no_verdict(self) -> None:
        """Another replica replaces each token we are refused: three sends, then a
        transient failure, not a lost connection."""
        server = Server(stale=[unauthorized()], fresh=[unauthorized()], newer=[unauthorized()])
        tokens = ReplacedTokens()

        with pytest.raises(TransientError) as failed:
            await client(server, tokens).send(call())

        assert not isinstance(failed.value, AuthorizationLost)
        assert server.tokens == ["stale", "fresh", "newer"]
        assert tokens.refreshed_for == ["stale", "fresh"]

    async def test_a_refresh_that_fails_sends_nothing_more(self) -> None:
        server = Server(stale=[unauthorized()])
        tokens = FakeTokens(refusal=TransientError("token endpoint answered 500"))

        with pytest.raises(TransientError):
            await client(server, tokens).send(call())

        assert server.tokens == ["stale"]

    async def test_a_grant_refused_before_sends_nothing(self) -> None:
        server = Server()
        tokens = FakeTokens(refusal=AuthorizationLost("refused before"))

        with pytest.raises(AuthorizationLost):
            await client(server, tokens).send(call())

        assert server.tokens == []


class TestPacing:
    async def test_the_pacer_is_waited_for_before_each_request_of_the_scope(self) -> None:
        server, pacer = Server(stale=[unauthorized()]), RecordingPacer()

        await client(server, FakeTokens(), ScopePacing(pacer)).send(call())

        assert pacer.scopes == ["org-1", "org-1"]  # the 401 and its retry

    async def test_each_answer_is_observed_with_its_decision(self) -> None:
        server = Server(stale=[unauthorized()], fresh=[httpx.Response(429)])
        pacing = RecordingPacing()

        with pytest.raises(RateLimited):
            await client(server, FakeTokens(), pacing).send(call())

        assert pacing.seen == [(401, AuthorizationLost), (429, RateLimited)]

    async def test_a_call_refused_by_the_pacing_fetches_no_token_and_sends_nothing(
        self,
    ) -> None:
        server, tokens = Server(), FakeTokens(refusal=AuthorizationLost("not asked"))
        spent = Deferred("the day is spent", until=ISSUED, reason="daily_limit")

        with pytest.raises(Deferred):
            await client(server, tokens, RecordingPacing(refuse=spent)).send(call())

        assert server.tokens == []

    async def test_the_pacing_admits_the_call_itself(self) -> None:
        pacing, sent = RecordingPacing(), call("POST")

        await client(Server(), FakeTokens(), pacing).send(sent)

        assert pacing.admitted == [sent]  # its scope and method, what a budget keys on


class TestClassification:
    @pytest.mark.parametrize(
        ("method", "decision"), [("POST", UnknownOutcome), ("GET", TransientError)]
    )
    async def test_the_system_decides_knowing_the_call(
        self, method: str, decision: type[SyncError]
    ) -> None:
        """A 5xx means something else on a write than on a read (here: as ``classify``)."""
        server = Server(stale=[httpx.Response(503)])
        pacing = RecordingPacing()

        with pytest.raises(decision):
            await client(server, FakeTokens(), pacing).send(call(method))

        assert pacing.seen == [(503, decision)]

    async def test_a_429_is_decided_by_the_system_with_its_retry_after(self) -> None:
        server = Server(stale=[httpx.Response(429, headers={"Retry-After": "2"})])
        before = _rate_limited()

        with pytest.raises(RateLimited) as limited:
            await client(server, FakeTokens()).send(call())

        assert limited.value.retry_after == 2.0
        assert _rate_limited() == before + 1

    async def test_the_decision_may_read_the_error_body(self) -> None:
        body = {"why": "field x must not be null"}
        server = Server(stale=[httpx.Response(422, json=body)])
        pacing = RecordingPacing()

        with pytest.raises(PermanentError, match="must not be null"):
            await client(server, FakeTokens(), pacing).send(call("POST"), json={})

        assert pacing.seen == [(422, PermanentError)]  # decided inside the attempt too

    async def test_a_lost_connection_the_system_reports_names_the_tokens_used(self) -> None:
        server = Server(stale=[httpx.Response(403, json={"why": "no access"})])

        with pytest.raises(AuthorizationLost) as lost:
            await client(server, FakeTokens()).send(call())

        assert lost.value.credentials_issued_at == ISSUED


class TestWhatIsSent:
    async def test_the_query_the_body_and_the_accepted_type_reach_the_system(self) -> None:
        sent: list[httpx.Request] = []

        def record(request: httpx.Request) -> httpx.Response:
            sent.append(request)
            return httpx.Response(200, json={"ok": True})

        await client(httpx.MockTransport(record), FakeTokens()).send(
            call("PUT"), params={"page": "2"}, json={"n": 1}
        )

        (request,) = sent
        assert (request.method, request.url.params["page"]) == ("PUT", "2")
        assert request.read() == b'{"n":1}'
        assert request.headers["Accept"] == "application/json"

    async def test_every_request_sent_is_counted_the_retry_after_a_401_too(self) -> None:
        server = Server(stale=[unauthorized()])
        before = _calls("POST")

        with counting() as calls:
            await client(server, FakeTokens()).send(call("POST"))

        assert calls.sent == 2
        assert _calls("POST") == before + 2


class TestLostExchange:
    @pytest.mark.parametrize(
        ("method", "error", "decision"),
        [
            ("POST", httpx.ReadTimeout("t"), UnknownOutcome),
            ("POST", httpx.ConnectError("c"), TransientError),
            ("GET", httpx.ReadTimeout("t"), TransientError),
        ],
    )
    async def test_what_a_lost_answer_means(
        self, method: str, error: httpx.TransportError, decision: type[SyncError]
    ) -> None:
        def lose(request: httpx.Request) -> httpx.Response:
            raise error

        with pytest.raises(decision) as raised:
            await client(httpx.MockTransport(lose), FakeTokens()).send(call(method))

        assert type(raised.value) is decision
        assert "Vendor" in str(raised.value)


def _calls(method: str) -> float:
    labels = {"system": "unit", "method": method}
    return REGISTRY.get_sample_value("invoicesync_vendor_calls_total", labels) or 0.0


def _rate_limited() -> float:
    value = REGISTRY.get_sample_value("invoicesync_vendor_rate_limited_total", {"system": "unit"})
    return value or 0.0
