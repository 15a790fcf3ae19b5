"""HTTP to Exact Online on the shared ``VendorClient``; what is Exact's own is here: its
URLs (per division), its paging, and its pacing: the rate budgets per division (the
minute is waited for; a spent day defers the call, never a 429) and the error brake
(shared by every replica) that keeps the app from being blocked."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from connector_exact import errors
from invoicesync_shared.connectors.error_brake import Attempt, ErrorBrake
from invoicesync_shared.connectors.errors import RateLimited, SyncError, TransientError
from invoicesync_shared.connectors.oauth import TokenStore
from invoicesync_shared.connectors.rate_limit import DailyBudget, WindowBudget
from invoicesync_shared.connectors.vendor_client import Call, Observe, VendorClient


class ExactPacing:
    """Exact's budgets around a call: the day is spent once per call (a spent day defers
    it before any token is fetched); each request waits for the minute and reserves a
    place under the error brake; each answer's headers update both windows."""

    def __init__(self, brake: ErrorBrake, budget: WindowBudget, daily: DailyBudget) -> None:
        self._brake = brake
        self._budget = budget
        self._daily = daily

    async def admit(self, call: Call) -> None:
        self._daily.spend(call.scope)

    @contextlib.asynccontextmanager
    async def attempt(self, call: Call) -> AsyncIterator[Observe]:
        await self._budget.acquire(call.scope)
        async with self._brake.call(call.scope, call.endpoint) as attempt:

            def observe(response: httpx.Response, failure: SyncError | None) -> None:
                self._observe(call.scope, attempt, response, failure)

            yield observe

    def _observe(
        self, scope: str, attempt: Attempt, response: httpx.Response, failure: SyncError | None
    ) -> None:
        if errors.counts_towards_block(failure):
            attempt.failed()
        _observe_windows(self._budget, self._daily, scope, response.headers)
        if isinstance(failure, RateLimited):
            # Refused, so nothing was done: if the day is what ran out (another replica
            # spent it), wait for the reset instead of retrying.
            self._daily.check(scope)


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
        self._api = f"{base_url}/api/v1"
        pacing = ExactPacing(
            brake, budget or WindowBudget(reserve=1, system="exact"), daily or DailyBudget()
        )
        self._vendor = VendorClient(
            http, tokens, system="exact", name="Exact", classify=_classify, pacing=pacing
        )

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
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        call = Call(
            integration_id,
            method,
            url or self._url(division, path),
            scope=f"{division}",
            endpoint=_endpoint(path),
        )
        response = await self._vendor.send(call, params=params, json=json)
        return response.json() if response.content else {}


def _classify(response: httpx.Response, call: Call) -> SyncError | None:
    # The scope is the division's number ("None" for a call outside any division).
    division = int(call.scope) if call.scope.isdigit() else None
    return errors.classify(response, is_write=call.is_write, division=division)


def _observe_windows(
    budget: WindowBudget, daily: DailyBudget, scope: str, headers: httpx.Headers
) -> None:
    """Both windows, each only when its headers came (a 429 may leave one out)."""
    minute = _window(headers, "X-RateLimit-Minutely-Remaining", "X-RateLimit-Minutely-Reset")
    if minute is not None:
        budget.observe(scope, remaining=minute[0], reset_at=minute[1])
    day = _window(headers, "X-RateLimit-Remaining", "X-RateLimit-Reset")
    if day is not None:
        daily.observe(scope, remaining=day[0], reset_at=day[1])


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
