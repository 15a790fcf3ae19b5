"""Injected faults: 500s, 429s, timeouts and responses lost after the commit.

Faults are registered through ``POST /_sandbox/faults`` and consumed by an ASGI
middleware, so every emulator gets them without code of its own. A response lost after
the commit may also stay invisible to reads for a while (``drop_response_visible_late``:
see ``visibility``), or be read at once but missed by a text search whose index lags
(``drop_response_search_late``: Yuki's SearchDocuments).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from invoicesync_sandbox.clock import Clock
from invoicesync_sandbox.visibility import hidden_until, unindexed_until

FaultKind = Literal[
    "http_500",
    "http_429",
    "timeout",
    "drop_response_after_commit",
    "drop_response_visible_late",
    "drop_response_search_late",
]
DEFAULT_DELAY_SECONDS = 5.0
SYSTEM_PREFIXES = {"exact": "/exact", "lexware": "/lexware", "yuki": "/yuki"}


@dataclass
class Fault:
    """``count`` requests matching ``system``/``path_pattern`` (regex) get ``kind``;
    ``delay_seconds`` (sandbox time) is how long a ``drop_response_visible_late`` write
    stays invisible to reads (a ``drop_response_search_late`` one: to text searches)."""

    system: str
    path_pattern: str
    kind: FaultKind
    count: int
    method: str | None = None
    delay_seconds: float = DEFAULT_DELAY_SECONDS
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def matches(self, method: str, path: str) -> bool:
        if self.count <= 0:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        prefix = SYSTEM_PREFIXES.get(self.system, "")
        if not path.startswith(prefix):
            return False
        return re.search(self.path_pattern, path) is not None


@dataclass
class FaultRegistry:
    """The armed faults and a tally of those fired, by kind (for chaos reports)."""

    faults: list[Fault] = field(default_factory=list)
    fired: Counter[str] = field(default_factory=Counter)

    def add(self, fault: Fault) -> Fault:
        re.compile(fault.path_pattern)  # raises re.error on a bad pattern
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """Consume one firing of the first armed fault that matches, if any."""
        for fault in self.faults:
            if fault.matches(method, path):
                fault.count -= 1
                self.fired[fault.kind] += 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def give_back(self, fault: Fault) -> None:
        """Undo a firing that did not happen (the call it was taken for was refused)."""
        self.fired[fault.kind] -= 1
        fault.count += 1
        if fault not in self.faults:
            self.faults.append(fault)


class FaultMiddleware:
    """Applies armed faults to matching requests before or after the emulator runs."""

    def __init__(
        self, app: ASGIApp, registry: FaultRegistry, hang_seconds: float, clock: Clock
    ) -> None:
        self.app = app
        self.registry = registry
        self.hang_seconds = hang_seconds
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        fault = self.registry.take(scope["method"], scope["path"])
        if fault is not None and fault.kind in LOST_ANSWERS:
            await self._lose_answer(fault, scope, receive, send)
        elif fault is None:
            await self.app(scope, receive, send)
        elif fault.kind == "http_500":
            await _send_plain(send, 500, b"Internal Server Error")
        elif fault.kind == "http_429":
            await _send_plain(send, 429, b"Too Many Requests", retry_after="1")
        elif fault.kind == "timeout":
            await asyncio.sleep(self.hang_seconds)
            await _send_plain(send, 504, b"Gateway Timeout")

    async def _lose_answer(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        """The emulator runs; if it accepted the call (2xx: a write committed, or a read
        answered), the caller never hears (``drop_response_visible_late``: and reads miss
        the write for ``delay_seconds``; ``drop_response_search_late``: text searches miss
        it). A refusal commits nothing: it is delivered, and
        the firing is given back for a call that is accepted. (Dropping refusals too lost,
        in the chaos run, eleven 401s in a row that Exact counted towards its block and
        the app never saw.)"""
        answer = _Held()
        until = self.clock.now() + fault.delay_seconds
        late: AbstractContextManager[None] = nullcontext()
        if fault.kind == "drop_response_visible_late":
            late = hidden_until(until)
        elif fault.kind == "drop_response_search_late":
            late = unindexed_until(until)
        with late:
            await self.app(scope, receive, answer.hold)
        if not answer.accepted:
            self.registry.give_back(fault)
            await answer.deliver(send)
            return
        await self._hang_up(send)

    async def _hang_up(self, send: Send) -> None:
        await asyncio.sleep(self.hang_seconds)
        await _send_plain(send, 504, b"Gateway Timeout")


LOST_ANSWERS = frozenset(
    {"drop_response_after_commit", "drop_response_visible_late", "drop_response_search_late"}
)


@dataclass
class _Held:
    """An emulator's answer held back: delivered later, or never."""

    messages: list[Message] = field(default_factory=list)

    async def hold(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def accepted(self) -> bool:
        start = next((m for m in self.messages if m["type"] == "http.response.start"), None)
        return start is not None and 200 <= int(start["status"]) < 300

    async def deliver(self, send: Send) -> None:
        for message in self.messages:
            await send(message)


async def _send_plain(send: Send, status: int, body: bytes, retry_after: str | None = None) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    if retry_after:
        headers.append((b"retry-after", retry_after.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
