"""The seam between the runtime and one accounting system."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Protocol

from typing_extensions import TypeVar

from invoicesync_shared.connectors.customers import CustomerLinks
from invoicesync_shared.connectors.document_files import DocumentFiles
from invoicesync_shared.connectors.file_limits import FileLimits
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.documents import DocumentSnapshot
from invoicesync_shared.integration_settings import SettingsModel

# The settings model of one system (``ExactSettings``…). The default lets code that
# serves any system (the fakes, helpers that read no setting) leave it out.
S = TypeVar("S", bound=SettingsModel, default=SettingsModel)
# A context only hands its settings out, so one of a system's settings is one of any.
S_co = TypeVar("S_co", bound=SettingsModel, default=SettingsModel, covariant=True)


@dataclass(frozen=True)
class Booking:
    """Where a document landed. ``booking_number`` is None while it awaits one (a draft)."""

    remote_id: str
    booking_number: str | None
    customer_created: bool = False


@dataclass(frozen=True)
class PushContext(Generic[S_co]):
    """What one push may use: the integration (never plain credentials), its settings as
    the system's model, the customer and supplier links of its scope (a purchase
    document's ``customer`` is its supplier: match it through ``suppliers``), its file, and
    whether this is an edit of a pushed document."""

    integration: Integration
    settings: S_co
    customers: CustomerLinks
    suppliers: CustomerLinks
    files: DocumentFiles  # a purchase document's original file, by its ``file`` reference
    reference: str
    is_update: bool = False
    previous: Booking | None = None
    # An earlier try of this document ran (the ledger holds its entry, whatever its state):
    # parts of it, such as a filed file, may exist remotely though its outcome is known.
    tried_before: bool = False


class Connector(Protocol[S]):
    """One accounting system. Vendor quirks stay behind this protocol. The runtime reads
    an integration's stored settings as ``settings_model`` and hands them over typed."""

    system: str
    settings_model: type[S]
    # The document kinds it books (events.documents.SALES_KINDS…). The runtime answers a
    # request for any other kind with a permanent ``kind_not_supported`` failure, never
    # calling ``push``: a new kind in the events is no crash of a connector that predates it.
    kinds: frozenset[str]
    # The purchase document files it takes. The runtime refuses a file beyond them for
    # good (``file_too_large``, ``unsupported_file_type``) before ``push``, and previews it
    # as that problem, so a connector never checks them itself.
    file_limits: FileLimits

    def scope(self, integration: Integration, settings: S) -> str:
        """The remote book the integration writes to (division, organisation…)."""
        ...

    async def push(self, ctx: PushContext[S], document: DocumentSnapshot) -> Booking:
        """Create (or, with ``ctx.is_update``, update) the document remotely.

        Raises a ``SyncError`` subclass for anything but success.
        """
        ...

    async def find_by_reference(
        self, ctx: PushContext[S], document: DocumentSnapshot
    ) -> Booking | None:
        """The remote document carrying our reference, if it exists."""
        ...

    async def verify(self, integration: Integration, settings: S) -> dict[str, Any]:
        """Check the settings against the remote book; facts worth showing, or raises
        ``PermanentError`` with what the user must fix."""
        ...
