"""What a connector may conclude about one call, as decisions the runtime acts on.

    SyncError
     ├── TransientError(retry_after)    429, 5xx, network trouble: retry later
     ├── UnknownOutcome                 a write whose answer was lost: look it up first
     ├── AmbiguousMatch(message)        entries with our reference, none provably ours
     └── PermanentError(code, message)  the bookkeeper must act: never retried
          └── AuthorizationLost         the grant is gone: re-authorise the integration

Each connector has exactly one ``classify`` that turns responses into these.
"""

from __future__ import annotations


class SyncError(Exception):
    """Base of every outcome that is not a booking."""


class TransientError(SyncError):
    """Try again later; ``retry_after`` seconds if the system said so."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnknownOutcome(SyncError):
    """The request may have been applied: look the document up before sending again."""


class PermanentError(SyncError):
    """Retrying cannot help; ``code`` is stable, ``message`` is for a bookkeeper."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class AuthorizationLost(PermanentError):
    """The accounting system refused our grant; the user has to connect again."""

    def __init__(self, message: str) -> None:
        super().__init__("needs_reauthorization", message)


class AmbiguousMatch(SyncError):
    """Remote entries carry our reference but none is provably ours: a person decides.

    Neither adopted (it may be another document) nor sent again (it may be this one);
    the outcome stays unresolved until the bookkeeper has checked and retries."""

    code = "ambiguous_match"

    def __init__(self, message: str) -> None:
        super().__init__(f"{self.code}: {message}")
        self.message = message
