"""Yuki connector settings (prefix INVOICESYNC_)."""

from __future__ import annotations

from pydantic import Field

from invoicesync_shared.settings import ServiceSettings


class YukiConnectorSettings(ServiceSettings):
    connector_yuki_port: int = 8023
    # A batch of 200 invoices takes Yuki a while; a timeout on a write is an unknown outcome.
    yuki_timeout_seconds: float = Field(default=60.0, gt=0)
    # After a write whose answer was lost, wait this long before looking it up, and as long
    # again before believing "not found" and pushing again (a late commit, a list that lags).
    # 0 looks up at once, as for a write known not to have happened.
    # Longer than for the others: a batch whose answer was lost may still be processing its
    # later invoices when the call times out.
    yuki_settle_seconds: float = Field(default=60.0, ge=0, le=120)
    # Pushes for one administration share one SOAP call: a batch goes when the window
    # since its first push has passed, when no push came for the pause, or when full.
    # While the consumer has more documents coming than the batches hold (a backlog),
    # a batch waits to be full, up to the longest wait since its first push.
    yuki_batch_window_seconds: float = Field(default=1.0, ge=0)
    yuki_batch_pause_seconds: float = Field(default=0.1, ge=0)
    yuki_batch_max_size: int = Field(default=200, ge=1)
    yuki_batch_max_wait_seconds: float = Field(default=10.0, ge=0)
    # After a batch, its documents' identifiers are read back together: lookups of one
    # administration within this window share one OutstandingDebtorItemsByDate call.
    yuki_lookup_window_seconds: float = Field(default=0.1, ge=0)
    # Documents of a partition in flight at once: what lets the batcher fill its batches.
    yuki_concurrency: int = Field(default=200, ge=1)
    # Payment status is read back this often (one call per administration and round, plus
    # one per document whose status changed); POST /integrations/{id}/refresh on the
    # control port does it at once.
    yuki_readback_interval_seconds: float = Field(default=3600.0, gt=0)
