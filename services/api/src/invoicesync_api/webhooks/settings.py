"""Webhook delivery settings (prefix INVOICESYNC_WEBHOOK_): retry schedule, disabling, grace."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Seconds to wait after each failed attempt: 8 attempts spread over about 31.6 hours.
DEFAULT_SCHEDULE = [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 50400.0]


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INVOICESYNC_WEBHOOK_", extra="ignore")

    # Delay before retry n (JSON list in the environment); its length is the retry count.
    retry_schedule: list[float] = Field(default_factory=lambda: list(DEFAULT_SCHEDULE))
    jitter: float = Field(default=0.1, ge=0, le=1)  # each delay is scaled by 1 ± jitter
    timeout_seconds: float = Field(default=10.0, gt=0)
    batch_size: int = Field(default=50, ge=1)
    concurrency: int = Field(default=10, ge=1)
    poll_interval_seconds: float = Field(default=1.0, gt=0)
    max_response_body_chars: int = Field(default=2048, ge=0)
    # An endpoint is disabled when, without any 2xx in between, this many deliveries used
    # up all their attempts, or it has failed for this many hours.
    disable_after_failed_deliveries: int = Field(default=5, ge=1)
    disable_after_failing_hours: float = Field(default=72.0, gt=0)
    # How long the old secret keeps signing after a rotation.
    rotation_grace_hours: float = Field(default=24.0, ge=0)
    # Loopback targets: for local runs only (``make run`` sets it).
    allow_loopback_urls: bool = False
    # Any private target (10/8, 192.168/16, link-local…): never in ``make run``.
    allow_private_urls: bool = False

    @property
    def max_attempts(self) -> int:
        return 1 + len(self.retry_schedule)

    @property
    def claim_lease_seconds(self) -> float:
        """How long a claimed delivery is hidden from other dispatchers while it is sent."""
        return self.timeout_seconds + 30.0
