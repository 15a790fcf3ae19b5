"""A webhook receiver that verifies Standard Webhooks signatures, and a clock tests move."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.requests import Request
from starlette.responses import PlainTextResponse

STEP = 10.0  # seconds a test moves the clock between rounds: more than any test delay


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """Verifies each request with ``secret`` (401 if it does not match), then answers
    the next status from ``answers`` (200 once they run out)."""

    url: str = ""
    secret: str = ""
    answers: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    async def handle(self, request: Request) -> PlainTextResponse:
        body = await request.body()
        headers = dict(request.headers)
        try:
            Webhook(self.secret).verify(body, headers)
            status = self.answers.pop(0) if self.answers else 200
        except WebhookVerificationError:
            status = 401
        self.received.append(Received(headers=headers, body=body, status=status))
        self.arrived.set()
        return PlainTextResponse("ok" if status < 300 else "nope " * 1000, status_code=status)

    @property
    def statuses(self) -> list[int]:
        return [r.status for r in self.received]


@dataclass
class SlowReceiver:
    """A receiver that is slow on purpose: it keeps the first ``hold`` requests waiting
    until the test sets ``release`` (``holding`` is set once it holds them all), and
    answers every request 500. It records each request's webhook-id as it arrives."""

    hold: int
    url: str = ""
    webhook_ids: list[str] = field(default_factory=list)
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    bound: float = 30.0  # seconds a held request waits at most: a failing test ends

    async def handle(self, request: Request) -> PlainTextResponse:
        await request.body()
        self.webhook_ids.append(request.headers["webhook-id"])
        if len(self.webhook_ids) <= self.hold:
            if len(self.webhook_ids) == self.hold:
                self.holding.set()
            await asyncio.to_thread(self.release.wait, self.bound)
        return PlainTextResponse("busy", status_code=500)


class ShiftedClock:
    """Real time plus an offset the test moves forward (stays within the receiver's
    5-minute timestamp tolerance, so signatures still verify against real time)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float = STEP) -> None:
        self.offset += timedelta(seconds=seconds)
