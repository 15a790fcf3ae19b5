"""Tables that more than one service reads or writes.

The API owns integrations, but connectors read their settings and rotate their tokens;
the outbox is written by the API and relayed by it; ledgers and customer links are the
connectors'. Foreign keys to API-only tables are declared in the migrations.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, Integer, LargeBinary, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invoicesync_shared.db.base import Model


class Integration(Model):
    """A client's link to one accounting system (one Exact division, one Lexware org…)."""

    __tablename__ = "integrations"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    partner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    system: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    status_reason: Mapped[str | None] = mapped_column(Text)
    # The connector's code for ``status_reason`` when it gave one (e.g. ``small_business``),
    # so the API can write the reason in the reader's language; None for free text.
    status_reason_code: Mapped[str | None] = mapped_column(String(64))
    # What the code's text names (a date, an organisation, the system's own words), so the
    # reason is written again in the reader's language; None when the code needs nothing.
    status_reason_params: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Encrypted JSON (tokens, access keys); never leaves this table in plain text.
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary)
    token_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    token_issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A token refresh in flight (connector-owned): who holds it and until when, on the
    # database clock. Other replicas wait for it instead of spending the refresh token too.
    token_refresh_holder: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    token_refresh_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    oauth_state_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    nightly_sync: Mapped[bool] = mapped_column(default=False)
    nightly_hour: Mapped[int] = mapped_column(Integer, default=2)
    # The failure brake (API-owned): after this many permanent failures in a row for one
    # code the integration is paused; the current run of them, and its code (while paused,
    # the cause it was paused for).
    failure_brake_after: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    failure_streak_code: Mapped[str | None] = mapped_column(String(64))
    failure_streak_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When it was last resumed after a pause (the shared clock): the cause has been fixed
    # in the accounting system, so connectors read what they keep of its master data again.
    resumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # Reconcile the last this many days each night at nightly_hour; 0: off.
    nightly_reconciliation_days: Mapped[int] = mapped_column(
        Integer, default=0, server_default=text("0")
    )
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class LedgerEntry(Model):
    """A connector's memory of one push: recorded before the call, completed after it.

    ``generation`` changes when a document's sync state is reset (deactivate, repair),
    so a reset document is pushed again while a redelivered event is not. ``attempts`` is
    the fencing token of the current lease; ``result_event`` is the outcome's result,
    recorded with it and published after (the connector's outbox); retention drops it
    once published and past the ledger window (a later request gets the same event id,
    rebuilt from the entry).
    """

    __tablename__ = "connector_ledger"
    # What the result relay reads: recorded results not yet published.
    __table_args__ = (
        Index(
            "ix_connector_ledger_unpublished",
            "updated_at",
            postgresql_where=text("result_event IS NOT NULL AND result_published_at IS NULL"),
        ),
        # What retention drops the result events of: published ones, oldest first.
        Index(
            "ix_connector_ledger_published_results",
            "result_published_at",
            postgresql_where=text("result_event IS NOT NULL AND result_published_at IS NOT NULL"),
        ),
        # What retention starts from: the few documents with a newer generation.
        Index(
            "ix_connector_ledger_regenerated",
            "integration_id",
            "document_id",
            "generation",
            postgresql_where=text("generation > 0"),
        ),
    )

    integration_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, primary_key=True)
    system: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # attempting, booked, sent, failed
    revision: Mapped[int] = mapped_column(Integer, default=0)  # edits pushed (Yuki)
    reference: Mapped[str] = mapped_column(String(128))
    remote_id: Mapped[str | None] = mapped_column(String(128))
    booking_number: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Database clock: the lease is held until then; None when no attempt holds it.
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result_event: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # Envelope.to_json()
    result_published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class CustomerLink(Model):
    """Our customer ↔ the accounting system's relation, per client and remote scope.

    Keyed by the scope (Exact division, Lexware organisation, Yuki administration), not
    by integration, so a re-linked integration finds its customers again.
    """

    __tablename__ = "customer_links"

    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    system: Mapped[str] = mapped_column(String(16), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    # customer or supplier: a customer and a supplier with one id are two relations.
    role: Mapped[str] = mapped_column(String(16), primary_key=True, server_default="customer")
    remote_id: Mapped[str] = mapped_column(String(128))
    remote_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OutboxMessage(Model):
    """An event written in the same transaction as the change it announces."""

    __tablename__ = "outbox_messages"
    # What the relay reads: the unpublished rows in order, however long the outbox grows.
    __table_args__ = (
        Index(
            "ix_outbox_messages_unpublished",
            "write_xid",
            "id",
            postgresql_where=text("published_at IS NULL"),
        ),
        # Retention: the published rows, oldest first.
        Index(
            "ix_outbox_messages_published_at",
            "published_at",
            postgresql_where=text("published_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    topic: Mapped[str] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(128))
    envelope: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The writing transaction's id, set by the database (no round trip): the relay's order,
    # and its proof that no older row can still appear (see outbox.relay).
    write_xid: Mapped[int] = mapped_column(
        BigInteger, server_default=text("(pg_current_xact_id()::text::bigint)")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ProcessedEvent(Model):
    """The inbox: an event id a consumer has already applied (dedup of redeliveries)."""

    __tablename__ = "processed_events"
    __table_args__ = (Index("ix_processed_events_processed_at", "processed_at"),)  # retention

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class ConnectorCallError(Model):
    """The error brake's rolling hour: one row per call in flight or error counted, per
    system, scope (Exact division) and endpoint, shared by every replica."""

    __tablename__ = "connector_call_errors"
    __table_args__ = (Index("ix_connector_call_errors_key", "system", "scope", "endpoint", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    system: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))  # in_flight | error
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DocumentFile(Model):
    """The original file of a purchase document (PDF, JPEG, PNG), one per document.

    Written by the API in the statement that stores its document; read by connectors,
    by ``id`` as the event's file reference names it (``connectors/document_files.py``):
    the bytes never travel on Kafka. Not a secret (the client's own business document),
    so stored as it came, with its SHA-256 to check what is read back."""

    __tablename__ = "document_files"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    # References documents.id (ON DELETE CASCADE), declared in the migration.
    document_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
