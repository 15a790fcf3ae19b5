"""The seam between the runtime and one accounting system."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from invoicesync_shared.connectors.customers import CustomerLinks
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.documents import DocumentSnapshot


@dataclass(frozen=True)
class Booking:
    """Where a document landed. ``booking_number`` is None while it awaits one (a draft)."""

    remote_id: str
    booking_number: str | None
    customer_created: bool = False


@dataclass(frozen=True)
class PushContext:
    """What one push may use: the integration (settings, never plain credentials),
    the customer links of its scope, and whether this is an edit of a pushed document."""

    integration: Integration
    customers: CustomerLinks
    reference: str
    is_update: bool = False
    previous: Booking | None = None

    @property
    def settings(self) -> dict[str, Any]:
        return self.integration.settings


class Connector(Protocol):
    """One accounting system. Vendor quirks stay behind this protocol."""

    system: str

    def scope(self, integration: Integration) -> str:
        """The remote book the integration writes to (division, organisation…)."""
        ...

    async def push(self, ctx: PushContext, document: DocumentSnapshot) -> Booking:
        """Create (or, with ``ctx.is_update``, update) the document remotely.

        Raises a ``SyncError`` subclass for anything but success.
        """
        ...

    async def find_by_reference(
        self, ctx: PushContext, document: DocumentSnapshot
    ) -> Booking | None:
        """The remote document carrying our reference, if it exists."""
        ...

    async def verify(self, integration: Integration) -> dict[str, Any]:
        """Check the settings against the remote book; facts worth showing, or raises
        ``PermanentError`` with what the user must fix."""
        ...
