"""API settings (prefix INVOICESYNC_)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from invoicesync_api.webhooks.settings import WebhookSettings
from invoicesync_shared.settings import ServiceSettings


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
    run_workers: bool = True  # outbox relay and result consumer in this process
    max_body_bytes: int = 1_000_000
    max_url_bytes: int = 8192  # longer: 414
    max_header_fields: int = 100  # more: 431
    # A POST with an Idempotency-Key holds two connections (its claim commits on its own).
    database_pool_size: int = 20

    idempotency_in_flight_seconds: int = 60
    # Documents pending longer than this are asked for again (nothing lost on a broker restart).
    sweeper_pending_seconds: int = 600
    sweeper_interval_seconds: float = 15.0
    scheduler_interval_seconds: float = 60.0

    # Lexware's key for the callbacks of its event subscriptions: the PEM its documentation
    # publishes, or a URL serving it (the sandbox's /_sandbox/lexware/public-key in
    # development). Neither set: POST /v1/callbacks/lexware answers 404.
    lexware_webhook_public_key: str = ""
    lexware_webhook_public_key_url: str = ""

    # Read from its own INVOICESYNC_WEBHOOK_* variables.
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)

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
