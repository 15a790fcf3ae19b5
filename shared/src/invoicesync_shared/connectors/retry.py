"""Retry policy for transient failures: exponential backoff with jitter, honouring the
accounting system's Retry-After, within a bounded budget of attempts."""

from __future__ import annotations

from dataclasses import dataclass

from tenacity import RetryCallState, wait_exponential_jitter

from invoicesync_shared.connectors.errors import TransientError


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    initial: float = 0.5
    maximum: float = 30.0
    # The longest Retry-After waited for in place (Exact's minute window resets within
    # 60 s). A longer one (an hour's error block, our error brake) must not hold the
    # document's lane: the document waits (deferred) and is asked for again then.
    longest_wait_in_place: float = 90.0

    def waits_in_place(self, exc: TransientError) -> bool:
        return exc.retry_after is None or exc.retry_after <= self.longest_wait_in_place

    def wait(self, state: RetryCallState) -> float:
        """Retry-After when given (never less), else backoff with jitter."""
        backoff = wait_exponential_jitter(multiplier=self.initial, max=self.maximum)(state)

        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientError) and exc.retry_after is not None:
            return max(exc.retry_after, 0.0)
        return float(backoff)
