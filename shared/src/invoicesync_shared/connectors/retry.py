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

    def wait(self, state: RetryCallState) -> float:
        """Retry-After when given (never less), else backoff with jitter."""
        backoff = wait_exponential_jitter(multiplier=self.initial, max=self.maximum)(state)

        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientError) and exc.retry_after is not None:
            return max(exc.retry_after, 0.0)
        return float(backoff)
