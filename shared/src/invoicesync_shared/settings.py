"""Settings every service shares; each service extends ``ServiceSettings``.

All come from the environment with the prefix ``INVOICESYNC_`` and are built once in a
service's ``main`` and passed down, never read at import time and never logged.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Database, broker, encryption and logging: what every process needs."""

    model_config = SettingsConfigDict(env_prefix="INVOICESYNC_", extra="ignore")

    database_url: SecretStr = SecretStr("postgresql://postgres@127.0.0.1:5432/invoicesync")
    kafka_bootstrap: str = "127.0.0.1:9092"
    # Fernet keys, comma separated: the first encrypts, all decrypt (key rotation).
    encryption_keys: SecretStr = SecretStr("")
    # "production" refuses what is for development and tests only (a followed clock).
    env: Literal["development", "test", "production"] = "development"
    # Dev and tests: date decisions follow this clock (the sandbox's GET /_sandbox/clock).
    clock_url: str = ""
    log_level: str = "info"
    log_json: bool = True
    # Traces: off ("none") unless a collector ("otlp", OTLP over HTTP) or stdout
    # ("console") is chosen; otel_endpoint is the full traces URL (.../v1/traces).
    otel_exporter: Literal["none", "console", "otlp"] = "none"
    otel_endpoint: str = ""
    topic_partitions: int = Field(default=4, ge=1)
    # How long the broker waits for a silent consumer before giving its partitions to
    # another replica (a killed connector's documents wait this long). The embedded broker
    # also holds every join for half of it, so test stacks use less.
    kafka_session_timeout_seconds: float = Field(default=30.0, ge=6, le=300)
    # Where a connector's control server (health, metrics, verify) listens; 0.0.0.0 in
    # containers, so probes and the API can reach it.
    connector_host: str = "127.0.0.1"
    # How often OAuth connectors look for idle grants to refresh (keep-alive).
    keepalive_interval_seconds: float = Field(default=3600.0, gt=0)
    # How long a connector's ledger lease on an in-flight push lasts before another
    # replica may take it over (the runtime's default, 120 s; chaos runs use less).
    ledger_lease_seconds: float = Field(default=120.0, gt=0)

    # The most one push may take (retries and waits included) before it is stopped as an
    # unknown outcome, so nothing unforeseen holds a client's documents for ever.
    push_deadline_seconds: float = Field(default=1800.0, gt=0)

    def ledger_lease(self) -> timedelta:
        return timedelta(seconds=self.ledger_lease_seconds)

    def push_deadline(self) -> timedelta:
        return timedelta(seconds=self.push_deadline_seconds)

    # Where the accounting systems live; the sandbox by default.
    sandbox_url: str = "http://127.0.0.1:8010"
    exact_base_url: str = ""
    lexware_base_url: str = ""
    lexware_oauth_url: str = ""
    yuki_base_url: str = ""

    @model_validator(mode="after")
    def _no_followed_clock_in_production(self) -> ServiceSettings:
        if self.clock_url and self.env == "production":
            raise ValueError("INVOICESYNC_CLOCK_URL is for development and tests only")
        return self

    def exact_url(self) -> str:
        return self.exact_base_url or f"{self.sandbox_url}/exact"

    def lexware_url(self) -> str:
        return self.lexware_base_url or f"{self.sandbox_url}/lexware"

    def lexware_auth_url(self) -> str:
        return self.lexware_oauth_url or f"{self.sandbox_url}/lexware"

    def yuki_url(self) -> str:
        return self.yuki_base_url or f"{self.sandbox_url}/yuki"
