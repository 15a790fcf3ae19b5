"""What a connector may conclude about one call, as decisions the runtime acts on.

    SyncError
     ├── TransientError(retry_after)    429, 5xx, network trouble: retry later
     │    ├── RateLimited               a 429: refused for the rate, nothing was done
     │    └── Deferred(until, reason)   a budget is spent (Exact's day): wait, not retry
     ├── UnknownOutcome                 a write whose answer was lost: look it up first
     ├── AmbiguousMatch(message)        entries with our reference, none provably ours
     └── PermanentError(code, message)  the bookkeeper must act: never retried
          └── AuthorizationLost         the grant is gone: re-authorise the integration

Each connector has exactly one ``classify`` that turns responses into these.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from invoicesync_shared.states import FailureCode, IntegrationStatus


class SyncError(Exception):
    """Base of every outcome that is not a booking."""


class TransientError(SyncError):
    """Try again later; ``retry_after`` seconds if the system said so. A wait too long to
    hold a document in place becomes a deferral, shown as ``wait_reason``."""

    wait_reason: ClassVar[str] = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(TransientError):
    """The system refused the call for its rate limit (a 429): nothing was done."""


class Deferred(TransientError):
    """Not called at all: a budget of the system is spent until ``until`` (aware UTC).

    Never retried in place (the wait can be hours): the runtime reports the document as
    waiting (``SyncDeferred``) and it is asked for again after ``until``. A transient
    error for everything else (read-backs, keep-alive): they simply try later."""

    def __init__(self, message: str, *, until: datetime, reason: str) -> None:
        super().__init__(message)
        self.until = until
        self.reason = reason


class UnknownOutcome(SyncError):
    """The request may have been applied: look the document up before sending again."""


class PermanentError(SyncError):
    """Retrying cannot help; ``code`` is stable, ``message`` is for a bookkeeper."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        # Set by the runtime: refused while an earlier write was still in doubt.
        self.in_doubt = False


class AuthorizationLost(PermanentError):
    """The accounting system refused our grant; the user has to connect again.

    The runtime turns it into an ``IntegrationConnectionLost`` event (the API alone
    changes the integration's status). ``status`` is what the integration should show:
    ``needs_reauthorization``, or ``error`` when our own app was refused; ``reason`` is a
    stable code; ``credentials_issued_at`` names the tokens that were refused, so the API
    ignores a report about tokens replaced meanwhile (a refresh or a reconnect).
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str = "authorization_refused",
        status: str = IntegrationStatus.NEEDS_REAUTHORIZATION,
        credentials_issued_at: datetime | None = None,
        params: dict[str, str] | None = None,
    ) -> None:
        super().__init__(FailureCode.NEEDS_REAUTHORIZATION, message)
        self.reason = reason
        # What the reason's text names (a division, the system's own words), so the API
        # can write it in the reader's language by ``reason``.
        self.params = dict(params or {})
        self.status = status
        self.credentials_issued_at = credentials_issued_at
        # Set by the runtime: whether an earlier write of the attempt is still in doubt
        # (the refused call itself wrote nothing).
        self.in_doubt = True


class AmbiguousMatch(SyncError):
    """Remote entries carry our reference but none is provably ours: a person decides.

    Neither adopted (it may be another document) nor sent again (it may be this one);
    the outcome stays unresolved until the bookkeeper has checked and retries."""

    code = FailureCode.AMBIGUOUS_MATCH

    def __init__(self, message: str) -> None:
        super().__init__(f"{self.code}: {message}")
        self.message = message
