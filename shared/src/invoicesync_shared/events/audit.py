"""Events a connector's own checks raise about documents it booked earlier: the remote
entry is gone (deleted in the accounting system), so its booking number may be handed
out again and the document must be repaired."""

from __future__ import annotations

from datetime import datetime

from invoicesync_shared.events.results import SyncResult


class RemoteEntryMissing(SyncResult):
    """The entry booked for the document no longer exists remotely."""

    TYPE = "com.invoicesync.remote_entry.missing"

    remote_id: str
    booking_number: str | None = None
    checked_at: datetime

    def outcome(self) -> tuple[object, ...]:
        # One fact per entry: an entry gone stays gone, however often an audit sees it.
        return (self.remote_id, self.booking_number)


AUDIT_TYPES: dict[str, type[SyncResult]] = {RemoteEntryMissing.TYPE: RemoteEntryMissing}
