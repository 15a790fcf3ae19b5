"""HTTP to Lexware Office: bearer tokens with one refresh on 401, and every call paced
inside the organisation's 2 requests/second, so 429s stay the exception."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from prometheus_client import Counter

from connector_lexware import errors
from invoicesync_shared.connectors.oauth import TokenStore
from invoicesync_shared.connectors.pacing import Pacer

CALLS = Counter("invoicesync_lexware_calls_total", "Requests sent to Lexware", ["method"])
RATE_LIMITED = Counter("invoicesync_lexware_rate_limited_total", "429 answers from Lexware")
PAGE_SIZE = 250  # the largest page Lexware serves


class LexwareClient:
    def __init__(
        self, http: httpx.AsyncClient, tokens: TokenStore, *, base_url: str, pacer: Pacer
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._base = base_url.rstrip("/")
        self._pacer = pacer
        self.calls = 0  # for tests and benchmarks
        self.rate_limited = 0

    async def get(
        self,
        integration_id: uuid.UUID,
        scope: str,
        path: str,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        return await self._call(integration_id, scope, "GET", path, params=params)

    async def post(
        self,
        integration_id: uuid.UUID,
        scope: str,
        path: str,
        body: dict[str, Any],
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        return await self._call(integration_id, scope, "POST", path, params=params, json=body)

    async def page(
        self, integration_id: uuid.UUID, scope: str, path: str, params: dict[str, str], number: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """One Spring page of a collection: its rows and whether it is the last."""
        query = {**params, "page": str(number), "size": str(PAGE_SIZE)}
        body = await self.get(integration_id, scope, path, query)
        return list(body.get("content") or []), bool(body.get("last", True))

    async def _call(
        self, integration_id: uuid.UUID, scope: str, method: str, path: str, **kwargs: Any
    ) -> dict[str, Any]:
        response = await self._tokens.send_authorized(
            integration_id, lambda token: self._send(scope, method, path, token, **kwargs)
        )

        failure = errors.classify(response, is_write=method != "GET")
        if failure is not None:
            raise failure
        body = response.json() if response.content else {}
        return body if isinstance(body, dict) else {"content": body}

    async def _send(
        self, scope: str, method: str, path: str, token: str, **kwargs: Any
    ) -> httpx.Response:
        await self._pacer.acquire(scope)
        self.calls += 1
        CALLS.labels(method).inc()
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            response = await self._http.request(
                method, f"{self._base}/{path}", headers=headers, **kwargs
            )
        except httpx.TransportError as exc:
            raise errors.transport_error(exc, is_write=method != "GET") from exc
        if response.status_code == 429:
            self.rate_limited += 1
            RATE_LIMITED.inc()
        return response
