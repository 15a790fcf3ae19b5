"""The states invoicesync stores and compares, each spelled once.

Members are strings (``StrEnum``): they compare equal to the values stored in the database
and sent in events and HTTP answers, and serialise as those values, so a row read back as
a plain ``str`` matches its member. The public schemas keep their own ``Literal`` lists
(the OpenAPI and AsyncAPI documents must not change); a unit test holds them to these.
"""

from __future__ import annotations

from enum import StrEnum


class IntegrationStatus(StrEnum):
    """An integration's link to its accounting system: awaiting consent, working, paused
    (the failure brake: documents failed in a row for one cause that a person must fix),
    broken (the user must connect again, or our side must be fixed), or ended for good."""

    PENDING_AUTHORIZATION = "pending_authorization"
    ACTIVE = "active"
    PAUSED = "paused"
    NEEDS_REAUTHORIZATION = "needs_reauthorization"
    ERROR = "error"
    DEACTIVATED = "deactivated"


class DocumentStatus(StrEnum):
    """A document's own state: a draft the client may still change, or booked (final,
    and synced to the client's integrations)."""

    DRAFT = "draft"
    BOOKED = "booked"


class SyncStatus(StrEnum):
    """A document's sync to one integration (the API's view): waiting to be asked for or
    answered, delivered without (sent) or with (booked) a booking number, refused, or
    with an outcome nobody knows for sure (ambiguous)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    BOOKED = "booked"
    FAILED = "failed"
    AMBIGUOUS = "ambiguous"


class LedgerState(StrEnum):
    """A connector's ledger entry for one push: a call under way or in doubt (attempting),
    delivered awaiting a number (sent), booked, or refused with nothing sent (failed)."""

    ATTEMPTING = "attempting"
    SENT = "sent"
    BOOKED = "booked"
    FAILED = "failed"


class RunStatus(StrEnum):
    """A sync run or a reconciliation: under way, finished, or (a reconciliation only)
    ended without a report."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


class FailureCode(StrEnum):
    """Sync failure codes that more than one module decides on (``SyncFailed.code``,
    a document sync's ``error_code``); connectors' other codes stay their own strings."""

    OUTCOME_UNKNOWN = "outcome_unknown"  # the call may have written: looked up next time
    AMBIGUOUS_MATCH = "ambiguous_match"  # several remote entries could be ours: a person decides
    INTERNAL_ERROR = "internal_error"  # a connector bug: may have written, looked up next time
    BEFORE_START_DATE = "before_start_date"  # older than the integration's start: never sent
    INTEGRATION_INACTIVE = "integration_inactive"  # not active when asked: never sent
    NEEDS_REAUTHORIZATION = "needs_reauthorization"  # the system refused our access
    UNAVAILABLE = "unavailable"  # unreachable after the retries: tried again by itself
    # A document kind the system's connector does not book yet (purchase documents, until
    # each connector learns them): never sent; retried by hand once it does.
    KIND_NOT_SUPPORTED = "kind_not_supported"
    FILE_MISSING = "file_missing"  # a purchase document's stored file is gone or altered
    # A purchase document's file beyond what the system takes (connectors.file_limits), or
    # what the system itself said of it: never sent; posted again with another file.
    FILE_TOO_LARGE = "file_too_large"
    UNSUPPORTED_FILE_TYPE = "unsupported_file_type"
