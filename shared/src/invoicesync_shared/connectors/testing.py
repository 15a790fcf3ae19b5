"""A connector double for tests of the runtime and of anything that drives it."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from invoicesync_shared.connectors.errors import SyncError
from invoicesync_shared.connectors.file_limits import MIB, FileLimits
from invoicesync_shared.connectors.protocol import Booking, PushContext
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.documents import SALES_KINDS, DocumentSnapshot
from invoicesync_shared.integration_settings import SettingsModel

FAKE_LIMITS = FileLimits("The fake system", MIB)


@dataclass
class FakeConnector:
    """Books into a dict. ``script`` holds errors to raise on the next pushes, in order;
    an error marked ``after_commit`` is raised after the document was stored (a lost
    response)."""

    system: str = "exact"
    # It reads no setting: whatever a test stores is read as the empty base model.
    settings_model: type[SettingsModel] = SettingsModel
    kinds: frozenset[str] = SALES_KINDS
    file_limits: FileLimits = FAKE_LIMITS
    booked: dict[str, Booking] = field(default_factory=dict)
    script: deque[tuple[Exception, bool]] = field(default_factory=deque)
    pushes: int = 0
    gate: asyncio.Event | None = None
    in_push: asyncio.Event = field(default_factory=asyncio.Event)
    lookups: int = 0
    lookup_errors: deque[Exception] = field(default_factory=deque)  # raised on next lookups
    scope_error: SyncError | None = None  # settings the connector cannot use
    settings_seen: list[SettingsModel] = field(default_factory=list)  # per push and verify
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def fail_next(self, error: Exception, *, after_commit: bool = False) -> None:
        """``error`` is a ``SyncError`` as a connector raises it, or any other exception
        for a bug or an answer no mapping foresaw."""
        self.script.append((error, after_commit))

    def scope(self, integration: Integration, settings: SettingsModel) -> str:
        if self.scope_error is not None:
            raise self.scope_error
        return "fake"

    async def push(self, ctx: PushContext, document: DocumentSnapshot) -> Booking:
        self.pushes += 1
        self.settings_seen.append(ctx.settings)
        if self.gate is not None:  # a slow accounting system: the test opens the gate
            self.in_push.set()
            await self.gate.wait()
        error, after_commit = self.script.popleft() if self.script else (None, False)
        if error is not None and not after_commit:
            raise error
        booking = self.booked.get(ctx.reference) if ctx.is_update else None
        booking = booking or Booking(str(uuid.uuid4()), str(next(self._numbers)))
        self.booked[ctx.reference] = booking
        if error is not None:
            raise error
        return booking

    async def find_by_reference(
        self, ctx: PushContext, document: DocumentSnapshot
    ) -> Booking | None:
        self.lookups += 1
        if self.lookup_errors:
            raise self.lookup_errors.popleft()
        return self.booked.get(ctx.reference)

    async def verify(self, integration: Integration, settings: SettingsModel) -> dict[str, Any]:
        self.settings_seen.append(settings)
        return {"fake": True}
