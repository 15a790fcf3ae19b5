"""HTTP to Exact Online: bearer tokens, one refresh on 401, the rate budgets per division
(the minute is waited for; a spent day defers the call, never a 429), and the error brake
(shared by every replica) that keeps the app from being blocked."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from connector_exact import errors
from invoicesync_shared.connectors.error_brake import ErrorBrake
from invoicesync_shared.connectors.errors import AuthorizationLost, TransientError
from invoicesync_shared.connectors.oauth import TokenStore
from invoicesync_shared.connectors.rate_limit import DailyBudget, WindowBudget
from invoicesync_shared.connectors.transport import transport_error


class ExactClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenStore,
        *,
        base_url: str,
        brake: ErrorBrake,
        budget: WindowBudget | None = None,
        daily: DailyBudget | None = None,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._api = f"{base_url}/api/v1"
        self.budget = budget or WindowBudget(reserve=1, system="exact")
        self.daily = daily or DailyBudget()
        self._brake = brake
        self.calls = 0
        self.rate_limited = 0  # 429s seen; the budget should keep this at zero

    async def get(
        self,
        integration_id: uuid.UUID,
        division: int | None,
        path: str,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        return await self._call(integration_id, division, "GET", path, params=params)

    async def post(
        self, integration_id: uuid.UUID, division: int, path: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        return await self._call(integration_id, division, "POST", path, json=body)

    async def results(
        self, integration_id: uuid.UUID, division: int, path: str, params: dict[str, str]
    ) -> list[dict[str, Any]]:
        """The first page of a collection (callers filter; 60 rows is plenty)."""
        body = await self.get(integration_id, division, path, params)
        rows = body.get("d", {})
        return list(rows.get("results", []) if isinstance(rows, dict) else rows)

    async def pages(
        self, integration_id: uuid.UUID, division: int, path: str, params: dict[str, str]
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Every page of a collection (60 rows each), following ``__next``."""
        url: str | None = self._url(division, path)
        query: dict[str, str] | None = params
        while url is not None:
            body = await self._call(integration_id, division, "GET", path, url=url, params=query)
            rows = body.get("d", {})
            yield list(rows.get("results", []) if isinstance(rows, dict) else rows)
            url = rows.get("__next") if isinstance(rows, dict) else None
            if url is not None and not url.startswith(f"{self._api}/"):
                # Never send the bearer token anywhere but Exact's API.
                raise TransientError(f"Exact gave a paging link outside its API: {url[:80]}")
            query = None  # the link carries the query and the skip token

    def _url(self, division: int | None, path: str) -> str:
        return f"{self._api}/{division}/{path}" if division is not None else f"{self._api}/{path}"

    async def _call(
        self,
        integration_id: uuid.UUID,
        division: int | None,
        method: str,
        path: str,
        *,
        url: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        url = url or self._url(division, path)
        scope = f"{division}"
        endpoint = _endpoint(path)
        self.daily.spend(scope)  # a spent day: Deferred, before any token or call
        response = await self._tokens.send_authorized(
            integration_id,
            lambda token: self._send(scope, endpoint, method, url, token, **kwargs),
        )
        if response.status_code == 429:
            # Refused, so nothing was done: if the day is what ran out (another replica
            # spent it), wait for the reset instead of retrying.
            self.daily.check(scope)
        failure = errors.classify(response, is_write=method != "GET", division=division)
        if isinstance(failure, AuthorizationLost) and failure.credentials_issued_at is None:
            # The tokens this call used (a refresh within the call changed them).
            failure.credentials_issued_at = await self._tokens.issued_at(integration_id)
        if failure is not None:
            raise failure
        return response.json() if response.content else {}

    async def _send(
        self, scope: str, endpoint: str, method: str, url: str, token: str, **kwargs: Any
    ) -> httpx.Response:
        await self.budget.acquire(scope)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        async with self._brake.call(scope, endpoint) as attempt:
            self.calls += 1
            try:
                response = await self._http.request(method, url, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                raise transport_error(exc, is_write=method != "GET", system="Exact") from exc
            if 400 <= response.status_code < 500 and response.status_code != 429:
                attempt.failed()  # what Exact counts towards its block
        self._observe(scope, response)
        if response.status_code == 429:
            self.rate_limited += 1
        return response

    def _observe(self, scope: str, response: httpx.Response) -> None:
        """Both windows, each only when its headers came (a 429 may leave one out)."""
        headers = response.headers
        minute = _window(headers, "X-RateLimit-Minutely-Remaining", "X-RateLimit-Minutely-Reset")
        if minute is not None:
            self.budget.observe(scope, remaining=minute[0], reset_at=minute[1])
        day = _window(headers, "X-RateLimit-Remaining", "X-RateLimit-Reset")
        if day is not None:
            self.daily.observe(scope, remaining=day[0], reset_at=day[1])


def _window(headers: httpx.Headers, remaining: str, reset: str) -> tuple[int, float] | None:
    """Remaining calls and the reset (epoch seconds; Exact says milliseconds)."""
    left, at = headers.get(remaining), headers.get(reset)
    if left is None or at is None:
        return None
    with contextlib.suppress(ValueError):
        return int(left), int(at) / 1000
    return None


def _endpoint(path: str) -> str:
    return path.split("?")[0].split("(")[0]
