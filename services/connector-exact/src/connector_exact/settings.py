"""Exact connector settings (prefix INVOICESYNC_)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from invoicesync_shared.settings import ServiceSettings


class ExactConnectorSettings(ServiceSettings):
    connector_exact_port: int = 8021
    exact_client_id: str = "invoicesync-dev"
    exact_client_secret: SecretStr = SecretStr("invoicesync-dev-secret")
    exact_timeout_seconds: float = 20.0
    # Exact blocks an app for an hour after >10 errors per endpoint per hour: stop short.
    exact_error_allowance: int = 8
    # Payment status and deleted entries are read back this often (nightly by default);
    # POST /integrations/{id}/refresh on the control port does it at once.
    exact_readback_interval_seconds: float = 86_400.0
    # Clients (so divisions) worked at once per partition; each one's documents in order.
    exact_concurrency: int = Field(default=32, ge=1)
    # After a write whose answer was lost, wait this long before looking it up, and as long
    # again before believing "not found" and pushing again (a late commit, a list that lags).
    # 0 looks up at once, as for a write known not to have happened.
    # Entries are read through OData filters, which Exact does not promise to be current.
    exact_settle_seconds: float = Field(default=30.0, ge=0, le=120)
    # Exact refuses a refresh token unused for 30 days: an idle integration's grant is
    # refreshed once its last refresh is this old (checked every keep-alive round).
    exact_keepalive_days: float = Field(default=25.0, gt=0, lt=30)
    # GL accounts, VAT codes and journals per division are kept this long (shared clock);
    # a list whose lookup failed a document is dropped at once, so a retry after the fix
    # in Exact reads it again.
    exact_master_data_ttl_seconds: float = Field(default=300.0, gt=0)
