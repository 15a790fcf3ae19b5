"""What a connector's HTTP client sent, counted by httpx event hooks (the production
clients keep no counters for tests)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx


@dataclass
class SentCounts:
    """Requests sent and 429s answered, on the clients ``counted`` gave it to."""

    calls: int = 0
    rate_limited: int = 0

    async def _request(self, request: httpx.Request) -> None:
        self.calls += 1

    async def _response(self, response: httpx.Response) -> None:
        if response.status_code == 429:
            self.rate_limited += 1


def counted(http: httpx.AsyncClient) -> SentCounts:
    """Count what ``http`` sends from now on."""
    counts = SentCounts()
    http.event_hooks["request"].append(counts._request)
    http.event_hooks["response"].append(counts._response)
    return counts
