"""Lexware connector settings (prefix INVOICESYNC_), built once in ``main``."""

from __future__ import annotations

from pydantic import Field, SecretStr

from invoicesync_shared.settings import ServiceSettings

SAFETY_NET_SECONDS = 3600.0  # the poll beside Lexware's callbacks
ONLY_NEWS_SECONDS = 60.0  # the poll without callbacks


class LexwareConnectorSettings(ServiceSettings):
    connector_lexware_port: int = 8022
    lexware_client_id: str = "invoicesync-dev"
    lexware_client_secret: SecretStr = SecretStr("invoicesync-dev-secret")
    # Lexware allows 2 requests per second per organisation, across all endpoints.
    lexware_requests_per_second: float = Field(default=2.0, gt=0)
    # Pace through PostgreSQL, so several replicas share one organisation's budget.
    lexware_shared_pacing: bool = True
    # Documents of a partition in flight at once (each document's events still in order):
    # organisations whose clients share a partition do not wait on one another's budget.
    # Drafts get their numbers when a person finalises them, so push order does not matter.
    lexware_concurrency: int = Field(default=32, ge=1)
    lexware_timeout_seconds: float = 20.0
    # After a write whose answer was lost, wait this long before looking it up, and as long
    # again before believing "not found" and pushing again (a late commit, a list that lags).
    # 0 looks up at once, as for a write known not to have happened.
    # The lookup starts from /v1/voucherlist, a list Lexware does not promise to be current.
    lexware_settle_seconds: float = Field(default=30.0, ge=0, le=120)
    lexware_connect_timeout_seconds: float = 5.0
    # How long a profile answer (small business or not) is trusted before asking again.
    lexware_profile_cache_seconds: float = 300.0
    # How often drafts and open vouchers are checked for a voucher number and payment
    # status, besides Lexware's callbacks. Unset: hourly where callbacks are subscribed
    # (Lexware asks integrations to rely on them; the poll is a safety net), every minute
    # where they are not (the poll is then the only news).
    lexware_poll_interval_seconds: float | None = Field(default=None, gt=0)
    # Where Lexware calls back when a voucher changes: the API's POST /v1/callbacks/lexware,
    # as Lexware reaches it. Unset: no event subscriptions, the poller alone brings news.
    lexware_callback_url: str | None = None
    # Lexware's refresh-token lifetime for partner apps is not published (unverified):
    # refreshed like Exact's before 30 idle days, the strict reading.
    lexware_keepalive_days: float = Field(default=25.0, gt=0)

    def poll_interval(self) -> float:
        """Seconds between the poller's rounds (``lexware_poll_interval_seconds``)."""
        if self.lexware_poll_interval_seconds is not None:
            return self.lexware_poll_interval_seconds
        return SAFETY_NET_SECONDS if self.lexware_callback_url else ONLY_NEWS_SECONDS
