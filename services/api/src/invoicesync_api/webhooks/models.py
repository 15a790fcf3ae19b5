"""Webhook tables: endpoints, one delivery per (endpoint, event), and every attempt.

Retries are counted from the stored attempts, so a restart never forgets where a delivery
stood; secrets are stored encrypted (SecretBox) and never leave in plain text after
creation or rotation.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invoicesync_shared.db.base import Model

ENABLED, DISABLED = "enabled", "disabled"
PENDING, DELIVERED, FAILED, CANCELED = "pending", "delivered", "failed", "canceled"


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookEndpoint(Model):
    """A partner's receiver URL, the events it wants, and its signing secret(s)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = _uuid_pk()
    partner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(ARRAY(String(64)))  # ["*"] means all
    description: Mapped[str | None] = mapped_column(String(500))
    secret: Mapped[bytes] = mapped_column(LargeBinary)  # SecretBox("whsec_...")
    # After a rotation the old secret still signs (alongside the new) until it expires.
    previous_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default=ENABLED)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The failure streak since the last 2xx: attempts, deliveries given up on, and since when.
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    failed_deliveries_in_row: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()


class WebhookDelivery(Model):
    """One event for one endpoint; ``event_id`` is the webhook-id receivers dedup on."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index(
            "ix_webhook_deliveries_due", "next_attempt_at", postgresql_where="status = 'pending'"
        ),
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at", "id"),
        # Retention: finished deliveries, oldest first.
        Index(
            "ix_webhook_deliveries_finished_created",
            "created_at",
            postgresql_where="status IN ('delivered', 'failed', 'canceled')",
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)  # {"type", "timestamp", "data"}
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # None: follow the retry schedule. A replay sets ``attempts + 1``: one more, no retries.
    max_attempts: Mapped[int | None] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_response_body: Mapped[str | None] = mapped_column(Text)  # truncated
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The dispatcher sending it now: its token fences the recording of the attempt, and
    # the lease (database clock) hides the delivery from other dispatchers until then.
    claim_token: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()


class WebhookAttempt(Model):
    """One POST to the receiver and what came back (status or error, truncated body)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[uuid.UUID] = _uuid_pk()
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    response_body: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
