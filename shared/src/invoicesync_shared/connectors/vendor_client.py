"""One HTTP client for the REST accounting systems (Exact Online, Lexware Office).

What they share lives here: the integration's bearer token (``BearerAuth``: on a 401 a
refresh and another try), the system's pacing around each request (a ``Pacing`` hook),
what a lost exchange means (``transport.transport_error``) and a refused grant. What each
answer means is the system's own ``classify``, injected; the 401 is the one status read
here, because it belongs to the token, not to the system::

    client = VendorClient(http, tokens, system="lexware", name="Lexware Office",
                          classify=classify, pacing=ScopePacing(TokenBucket(2.0)))
    call = Call(integration_id, "GET", f"{base}/v1/profile", scope=organisation)
    profile = (await client.send(call)).json()
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx

from invoicesync_shared.connectors.call_count import count_call, count_decision
from invoicesync_shared.connectors.errors import AuthorizationLost, SyncError, TransientError
from invoicesync_shared.connectors.pacing import Pacer
from invoicesync_shared.connectors.transport import transport_error


@dataclass(frozen=True)
class Call:
    """One call to the system, as its pacing and its classification see it."""

    integration_id: uuid.UUID
    method: str
    url: str
    scope: str  # what the system budgets by: Exact's division, Lexware's organisation
    endpoint: str = ""  # what a per-endpoint count keys on (Exact's error brake)

    @property
    def is_write(self) -> bool:
        return self.method != "GET"


# The system's decision on an answer: None for success, else what the runtime acts on.
Classify = Callable[[httpx.Response, Call], SyncError | None]
# Told each answer and its decision, inside the try's pacing; may raise a ``SyncError``.
Observe = Callable[[httpx.Response, SyncError | None], None]


class Pacing(Protocol):
    """The rate hooks of one system around a call."""

    async def admit(self, call: Call) -> None:
        """Once per call, before any token is fetched: raise (``Deferred``) to refuse it."""
        ...

    def attempt(self, call: Call) -> AbstractAsyncContextManager[Observe]:
        """Around each request sent (a 401 and its retry are two): entered when it may go
        (it may wait, or raise), it yields what to tell about the answer."""
        ...


class Tokens(Protocol):
    """Access tokens of an integration (``oauth.TokenStore``)."""

    async def access_token(self, integration_id: uuid.UUID) -> str: ...

    async def renew(self, integration_id: uuid.UUID, *, failed_token: str) -> tuple[str, bool]: ...

    async def issued_at(self, integration_id: uuid.UUID) -> datetime | None: ...

    async def stored_token(
        self, integration_id: uuid.UUID
    ) -> tuple[str, datetime | None] | None: ...


def _unobserved(response: httpx.Response, failure: SyncError | None) -> None:
    return None


class NoPacing:
    """Every call goes at once; nothing is learnt from the answers."""

    async def admit(self, call: Call) -> None:
        return None

    @contextlib.asynccontextmanager
    async def attempt(self, call: Call) -> AsyncIterator[Observe]:
        yield _unobserved


class ScopePacing(NoPacing):
    """A fixed rate per scope (a ``pacing.Pacer``) waited for before each request."""

    def __init__(self, pacer: Pacer) -> None:
        self._pacer = pacer

    @contextlib.asynccontextmanager
    async def attempt(self, call: Call) -> AsyncIterator[Observe]:
        await self._pacer.acquire(call.scope)
        yield _unobserved


Attempt = Callable[[], AbstractAsyncContextManager[Callable[[httpx.Response], None]]]
# Sends of one request: the stored token, a renewed one, and one more renewed: a token the
# token endpoint has just given may already be expired by a clock that jumped since.
MAX_SENDS = 3
# Refusals of tokens the token endpoint gave this call, still stored, that refuse the grant.
REFUSALS_FOR_A_VERDICT = 2


@contextlib.asynccontextmanager
async def _untouched() -> AsyncIterator[Callable[[httpx.Response], None]]:
    yield lambda response: None


class BearerAuth(httpx.Auth):
    """The integration's access token on the request; on a 401 the token is renewed
    (serialised across replicas by the token store, which retires the refused token when
    no new one comes, so a retry does not send it again) and the request sent again.

    Only tokens the token endpoint gave this very call, refused twice while the store
    still holds them, are the grant's refusal: a stored token another replica got may be
    stale by a clock the store's is behind, a token replaced since says nothing about the
    stored one, and a token just given may be expired by the time it arrives (the
    process paused, or a test calendar moved between the refresh and the send). A grant
    truly withdrawn mostly ends at the next refresh, which the token endpoint refuses.
    Tokens are renewed and sent again, ``MAX_SENDS`` in all; with no verdict by then,
    ``undecided``. ``attempt`` wraps each request sent."""

    def __init__(
        self, tokens: Tokens, integration_id: uuid.UUID, *, attempt: Attempt = _untouched
    ) -> None:
        self._tokens = tokens
        self._integration_id = integration_id
        self._attempt = attempt
        self.refused_issued_at: datetime | None = None  # of the refused tokens
        self.undecided = False  # the last 401 was no verdict on the stored grant

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token, own = await self._tokens.access_token(self._integration_id), False
        refusals = 0
        for sent in range(MAX_SENDS):
            if sent:
                token, own = await self._tokens.renew(self._integration_id, failed_token=token)
            async with self._attempt() as answered:
                request.headers["Authorization"] = f"Bearer {token}"
                response = yield request
                await response.aread()  # the decision may read the error body
                answered(response)
            if response.status_code != 401:
                return
            if own and await self._still_stored(token):
                refusals += 1
                if refusals == REFUSALS_FOR_A_VERDICT:
                    return
        self.undecided = True

    async def _still_stored(self, token: str) -> bool:
        stored = await self._tokens.stored_token(self._integration_id)
        if stored is not None and stored[0] != token:
            return False
        self.refused_issued_at = stored[1] if stored else None
        return True


class VendorClient:
    """Calls one accounting system for its integrations: authorised, paced, and each
    answer decided by the system's ``classify``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: Tokens,
        *,
        system: str,
        name: str,
        classify: Classify,
        pacing: Pacing | None = None,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._system = system  # metric label
        self._name = name  # in messages a bookkeeper reads
        self._classify = classify
        self._pacing = pacing or NoPacing()

    async def send(
        self,
        call: Call,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> httpx.Response:
        """The system's answer to ``call`` when it is a success. ``files``: multipart
        parts (name → filename, bytes, content type), for uploads.

        Raises what ``classify`` decided; ``AuthorizationLost`` when even a refreshed
        token is refused (or the token store has no grant); ``transport_error``'s decision
        when the exchange is lost; whatever the pacing refuses the call with.
        """
        await self._pacing.admit(call)
        auth = BearerAuth(self._tokens, call.integration_id, attempt=lambda: self._attempt(call))
        try:
            response = await self._http.request(
                call.method,
                call.url,
                params=params,
                json=json,
                files=files,
                headers={"Accept": "application/json"},
                auth=auth,
            )
        except httpx.TransportError as exc:
            raise transport_error(exc, is_write=call.is_write, system=self._name) from exc
        failure = self._decide(response, call)
        if failure is None:
            return response
        if isinstance(failure, AuthorizationLost) and auth.undecided:
            # Refused tokens the store no longer holds: no verdict on the stored grant.
            raise TransientError(f"{self._name} refused access tokens replaced meanwhile")
        if isinstance(failure, AuthorizationLost) and failure.credentials_issued_at is None:
            # The tokens that were refused (a refresh within the call changed them).
            failure.credentials_issued_at = auth.refused_issued_at or await self._tokens.issued_at(
                call.integration_id
            )
        raise failure

    @contextlib.asynccontextmanager
    async def _attempt(self, call: Call) -> AsyncIterator[Callable[[httpx.Response], None]]:
        async with self._pacing.attempt(call) as observe:
            count_call(self._system, call.method)

            def answered(response: httpx.Response) -> None:
                failure = self._decide(response, call)
                count_decision(self._system, failure)
                observe(response, failure)

            yield answered

    def _decide(self, response: httpx.Response, call: Call) -> SyncError | None:
        if response.status_code == 401:
            # After a refresh: the grant itself is refused (the first 401 of a call is the
            # expired token's, and only a pacing hook sees it).
            return AuthorizationLost(
                f"{self._name} no longer accepts the authorisation; connect the integration again."
            )
        return self._classify(response, call)
