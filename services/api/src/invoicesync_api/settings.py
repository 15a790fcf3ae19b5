"""API settings (prefix INVOICESYNC_)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr

from invoicesync_api.webhooks.settings import WebhookSettings
from invoicesync_api.workers.retention import RetentionWindows
from invoicesync_shared.events import topics
from invoicesync_shared.events.topic_settings import TOPIC_SETTINGS
from invoicesync_shared.settings import ServiceSettings

HOUR_MS = 3_600_000
# The longest a request or result can be redelivered by the broker (topic retention).
_REDELIVERY_HOURS = max(
    TOPIC_SETTINGS[topic].retention_ms // HOUR_MS
    for topic in (topics.DOCUMENTS, topics.SYNC_RESULTS)
)


class ApiSettings(ServiceSettings):
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Prometheus scrapes /metrics here, apart from the public port.
    api_metrics_port: int = 8001
    public_url: str = ""  # how callers and OAuth redirects reach the API
    admin_token: SecretStr = SecretStr("")
    # OAuth apps invoicesync uses; the sandbox registers the same by default.
    exact_client_id: str = "invoicesync-dev"
    exact_client_secret: SecretStr = SecretStr("invoicesync-dev-secret")
    lexware_client_id: str = "invoicesync-dev"
    lexware_client_secret: SecretStr = SecretStr("invoicesync-dev-secret")
    oauth_redirect_uri: str = ""  # defaults to {public_url}/v1/oauth/callback
    # The connectors' control endpoints (verification at connect time, health).
    connector_exact_url: str = "http://127.0.0.1:8021"
    connector_lexware_url: str = "http://127.0.0.1:8022"
    connector_yuki_url: str = "http://127.0.0.1:8023"
    # How long a preview waits for each connector's answer; past it, that integration's
    # preview says preview_unavailable (the others still answer).
    preview_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    run_workers: bool = True  # outbox relay and result consumer in this process
    max_body_bytes: int = 1_000_000
    # A purchase document's file (decoded), at most: Lexware Office's limit for a voucher
    # file (5 MB), the strictest system's. Larger: 413. Its POST bodies may be larger than
    # max_body_bytes by the file in base64.
    purchase_file_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    max_url_bytes: int = 8192  # longer: 414
    max_header_fields: int = 100  # more: 431
    # A POST with an Idempotency-Key holds two connections (its claim commits on its own).
    database_pool_size: int = 20

    # Rate limit per API key (GCRA, shared by replicas through PostgreSQL): a sustained rate
    # and a burst. A frontend polling a few lists every few seconds, and a page that loads
    # some tens of resources at once, stay far inside; a script firing a few hundred
    # requests in seconds is slowed to the sustained rate after its burst. 0: no limit.
    rate_limit_per_minute: int = Field(default=600, ge=0)
    rate_limit_burst: int = Field(default=120, ge=1)
    # Failed authentications (unknown, wrong or revoked keys) per client address: past them,
    # every request from that address answers 429 until the bucket lets one more through.
    # 0: no slow-down.
    auth_failures_per_minute: int = Field(default=20, ge=0)
    auth_failures_burst: int = Field(default=20, ge=1)

    idempotency_in_flight_seconds: int = 60
    # Results applied at once (each document's in order, committed up to the first
    # unfinished): one at a time, a burst of results waited minutes behind one another.
    results_concurrency: int = Field(default=8, ge=1)
    # Issue and due dates later than this many days from today are refused (422).
    document_max_days_ahead: int = Field(default=366, ge=0)
    # Documents pending longer than this are asked for again (nothing lost on a broker restart).
    sweeper_pending_seconds: int = 600
    # A request unanswered this long is asked again even while its connector is busy with
    # older ones (doubling per re-ask): a bound on the wait, not a loop over a backlog.
    sweeper_overdue_seconds: int = 3600
    sweeper_interval_seconds: float = 15.0
    # At most this many documents asked for again per pass, each pass one short transaction.
    sweeper_batch_size: int = Field(default=500, ge=1)
    scheduler_interval_seconds: float = 60.0
    # A paused integration's next waiting document is previewed this often; when it passes,
    # the integration resumes by itself (0: only POST …/resume resumes).
    brake_auto_resume_seconds: float = Field(default=60.0, ge=0)

    # Retention of bookkeeping rows (INVOICESYNC_RETENTION_*), in hours; business data is
    # never pruned. Each default keeps the guarantee the rows serve, with a margin.
    retention_interval_seconds: float = Field(default=300.0, gt=0)
    retention_batch_size: int = Field(default=1000, ge=1)
    # Published outbox rows: the relay is done with them; kept a while for inspection.
    retention_outbox_hours: float = Field(default=72.0, gt=0)
    # The result consumer's dedup: longer than the broker can redeliver (topic
    # retention), plus a day.
    retention_processed_events_hours: float = Field(default=_REDELIVERY_HOURS + 24.0, gt=0)
    # An answered Idempotency-Key replays its answer for at least 24 h; plus a day of margin.
    retention_idempotency_keys_hours: float = Field(default=48.0, ge=24.0)
    # Finished webhook deliveries and their attempts: 30 days of history for partners.
    retention_webhook_deliveries_hours: float = Field(default=30 * 24.0, gt=0)
    # Per-document items of finished runs (the run keeps its totals): 30 days.
    retention_sync_run_items_hours: float = Field(default=30 * 24.0, gt=0)
    # Superseded ledger generations: far longer than a request naming one can be
    # redelivered, so a late copy still finds the row that makes it a no-op.
    retention_ledger_generations_hours: float = Field(
        default=30 * 24.0, ge=float(_REDELIVERY_HOURS)
    )
    # The error brake's rows: it counts one hour; a day leaves room to look.
    retention_call_errors_hours: float = Field(default=24.0, ge=1.0)

    # Lexware's key for the callbacks of its event subscriptions: the PEM its documentation
    # publishes, or a URL serving it (the sandbox's /_sandbox/lexware/public-key in
    # development). Neither set: POST /v1/callbacks/lexware answers 404.
    lexware_webhook_public_key: str = ""
    lexware_webhook_public_key_url: str = ""

    # Read from its own INVOICESYNC_WEBHOOK_* variables.
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)

    def retention_windows(self) -> RetentionWindows:
        return RetentionWindows(
            outbox=timedelta(hours=self.retention_outbox_hours),
            processed_events=timedelta(hours=self.retention_processed_events_hours),
            idempotency_keys=timedelta(hours=self.retention_idempotency_keys_hours),
            webhook_deliveries=timedelta(hours=self.retention_webhook_deliveries_hours),
            sync_run_items=timedelta(hours=self.retention_sync_run_items_hours),
            ledger_generations=timedelta(hours=self.retention_ledger_generations_hours),
            call_errors=timedelta(hours=self.retention_call_errors_hours),
        )

    def base_url(self) -> str:
        return self.public_url or f"http://{self.api_host}:{self.api_port}"

    def redirect_uri(self) -> str:
        return self.oauth_redirect_uri or f"{self.base_url()}/v1/oauth/callback"

    def connector_url(self, system: str) -> str:
        return {
            "exact": self.connector_exact_url,
            "lexware": self.connector_lexware_url,
            "yuki": self.connector_yuki_url,
        }[system]
