"""Tables the API owns. Shared tables (integrations, ledger, outbox) are in the shared
package; the migrations create all of them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invoicesync_shared.db.base import Model
from invoicesync_shared.states import SyncStatus


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Partner(Model):
    __tablename__ = "partners"

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    # The default language of its messages (i18n.languages); None: English.
    language: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[datetime] = _created()


class ApiKey(Model):
    """Only the SHA-256 of a key is kept; keys are random, so a slow hash adds nothing."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = _uuid_pk()
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100), server_default="")
    # What the key may do: read, write, admin (api_keys.scopes.Scope).
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    created_at: Mapped[datetime] = _created()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set by a rotation: the old key keeps working until then (the overlap window).
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Coarse: written at most once a minute per key, never on every request.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKeyRateLimit(Model):
    """A key's rate-limit bucket (GCRA; see rate_limits). UNLOGGED, written by one statement."""

    __tablename__ = "api_key_rate_limits"
    __table_args__ = {"prefixes": ["UNLOGGED"], "postgresql_with": {"fillfactor": 50}}

    key_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tat: Mapped[float] = mapped_column(Double)
    allowed: Mapped[bool] = mapped_column(Boolean)


class AuthFailureLimit(Model):
    """Failed authentications from one client address (GCRA; see rate_limits)."""

    __tablename__ = "auth_failure_limits"
    __table_args__ = {"prefixes": ["UNLOGGED"], "postgresql_with": {"fillfactor": 50}}

    address: Mapped[str] = mapped_column(Text, primary_key=True)
    tat: Mapped[float] = mapped_column(Double)
    allowed: Mapped[bool] = mapped_column(Boolean)


class Client(Model):
    __tablename__ = "clients"

    id: Mapped[uuid.UUID] = _uuid_pk()
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    vat_number: Mapped[str | None] = mapped_column(String(32))
    company_number: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    country: Mapped[str | None] = mapped_column(String(2))
    email: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Amsterdam")
    created_at: Mapped[datetime] = _created()


# Document numbers are unique per client and kind; a purchase document's (its supplier's
# own number) per supplier too. The intake's duplicate lookup repeats these predicates.
SALES_KIND = text("kind IN ('invoice', 'credit_note')")
PURCHASE_KIND = text("NOT (kind IN ('invoice', 'credit_note'))")
SUPPLIER_KEY = text("(customer ->> 'external_id')")


class Document(Model):
    """A sales document (invoice, credit note) or a purchase document (purchase invoice,
    purchase credit note, receipt), as the business application sent it. ``customer``
    holds the counterparty: the customer of a sales document, the supplier of a purchase
    one (answered as ``supplier``); a purchase document's file is in ``document_files``."""

    __tablename__ = "documents"
    __table_args__ = (
        # A sales number is the client's own: once per client and kind. A purchase
        # document's is its supplier's: once per client, kind and supplier (its
        # external_id, the key customers are told apart by), as suppliers' numbers collide.
        Index(
            "uq_documents_sales_number",
            "client_id",
            "kind",
            "number",
            unique=True,
            postgresql_where=SALES_KIND,
        ),
        Index(
            "uq_documents_purchase_number",
            "client_id",
            "kind",
            "number",
            SUPPLIER_KEY,
            unique=True,
            postgresql_where=PURCHASE_KIND,
        ),
        # The lists' order (newest first per partner and kind) and their cursor.
        Index("ix_documents_partner_kind_created", "partner_id", "kind", "created_at", "id"),
        # The same for one client's list: it walks that client's documents only.
        Index("ix_documents_client_kind_created", "client_id", "kind", "created_at", "id"),
        # "Not synced anywhere" (booking_number=null): only those rows are in these
        # indexes, so the filter costs what it finds, not the client's whole history.
        Index(
            "ix_documents_partner_kind_unbooked",
            "partner_id",
            "kind",
            "created_at",
            "id",
            postgresql_where=text("NOT has_booking_number"),
        ),
        Index(
            "ix_documents_client_kind_unbooked",
            "client_id",
            "kind",
            "created_at",
            "id",
            postgresql_where=text("NOT has_booking_number"),
        ),
        # "sync_status=failed": the same, for the documents with a failed sync.
        Index(
            "ix_documents_partner_kind_failed",
            "partner_id",
            "kind",
            "created_at",
            "id",
            postgresql_where=text("failed_syncs > 0"),
        ),
        Index(
            "ix_documents_client_kind_failed",
            "client_id",
            "kind",
            "created_at",
            "id",
            postgresql_where=text("failed_syncs > 0"),
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"), index=True)
    # invoice, credit_note, purchase_invoice, purchase_credit_note, receipt
    kind: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    number: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # draft, booked
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    customer: Mapped[dict[str, Any]] = mapped_column(JSONB)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    net_total: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    vat_total: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    gross_total: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    credit_note_for: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("documents.id"))
    # A purchase document's file reference (events.documents.DocumentFileRef as JSON: id,
    # filename, content_type, size, sha256); the bytes are in document_files.
    file: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    booked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Whether any integration gave it a booking number; kept by the API where sync
    # states get or lose one (sync/results.py, integrations/lifecycle.py).
    has_booking_number: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    # How many of its sync states are failed; kept by a trigger on document_syncs (see
    # migration 4b8e2f6a9c31), never written here.
    failed_syncs: Mapped[int] = mapped_column(SmallInteger, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class DocumentSync(Model):
    """A document's state in one integration; ``generation`` grows on each reset."""

    __tablename__ = "document_syncs"
    __table_args__ = (
        # The sweeper's and the oldest-pending gauge's rows: the few still waiting.
        Index(
            "ix_document_syncs_awaiting_requested_at",
            "requested_at",
            postgresql_where=text("status IN ('pending', 'sending', 'ambiguous')"),
        ),
        # "sync_status=failed" and the sweeper's rows: found from the few not booked, not by
        # probing every document of the partner (booked is most of them: left out).
        Index(
            "ix_document_syncs_unsettled",
            "status",
            "document_id",
            postgresql_where=text("status <> 'booked'"),
        ),
        # An integration's counts per status, from its own rows.
        Index("ix_document_syncs_integration_status", "integration_id", "status"),
        # The integration's soonest wait, and the sweeper's "wait is over": the few waiting.
        Index(
            "ix_document_syncs_waiting",
            "integration_id",
            "waiting_until",
            postgresql_where=text("waiting_until IS NOT NULL"),
        ),
        # The console's inbox: failed sends counted and listed per code and system from
        # these rows alone (migration 85e17f34e8ff).
        Index(
            "ix_document_syncs_problems",
            "integration_id",
            "error_code",
            "document_id",
            postgresql_include=["answered_at"],
            postgresql_where=text("status IN ('failed', 'ambiguous')"),
        ),
        # The inbox's duplicate booking numbers: the few flagged rows (migration 3c9d1e7a4b20).
        Index(
            "ix_document_syncs_flagged",
            "integration_id",
            "document_id",
            postgresql_include=["answered_at"],
            postgresql_where=text(
                "duplicate_of IS NOT NULL OR error_code = 'remote_entry_missing'"
            ),
        ),
    )

    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    integration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integrations.id"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), default=SyncStatus.PENDING)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    booking_number: Mapped[str | None] = mapped_column(String(64), index=True)
    remote_id: Mapped[str | None] = mapped_column(String(128))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payment_status: Mapped[str | None] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_retryable: Mapped[bool | None] = mapped_column()
    duplicate_of: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # Times the sweeper asked again while it stayed pending; each wait doubles.
    sweeps: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When a connector last answered a request for it (booked, sent, failed, unknown);
    # read-backs (payments, drafts finalised) do not count: the sweeper's sign of progress.
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    # When the last request for it went out (database clock): a later request of the same
    # integration answered while this one waits means this one was lost (workers/sweeper.py).
    requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Pending and not asked for until then (a spent budget, ``waiting_reason`` e.g.
    # ``daily_limit``); cleared by the next answer or request.
    waiting_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    waiting_reason: Mapped[str | None] = mapped_column(String(32))

    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class IdempotencyKey(Model):
    """A POST's key: in flight until its response is stored, then replayed verbatim."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_created_at", "created_at"),)  # retention

    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Fencing: a claim taken over after the in-flight window gets a new token, so the
    # request it was taken from can no longer release it.
    claim_token: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), server_default=text("gen_random_uuid()")
    )
    created_at: Mapped[datetime] = _created()


class SyncRun(Model):
    """A batch of pushes started by a person (manual) or the scheduler (nightly).

    Counters are kept on the row, updated as results arrive, so progress is live.
    """

    __tablename__ = "sync_runs"

    id: Mapped[uuid.UUID] = _uuid_pk()
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"), index=True)
    integration_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    trigger: Mapped[str] = mapped_column(String(16))  # manual, nightly
    status: Mapped[str] = mapped_column(String(16))  # running, finished
    documents_total: Mapped[int] = mapped_column(Integer, default=0)
    documents_synced: Mapped[int] = mapped_column(Integer, default=0)
    documents_failed: Mapped[int] = mapped_column(Integer, default=0)
    customers_synced: Mapped[int] = mapped_column(Integer, default=0)
    # A purchase document's push creates a supplier, counted here, not as a customer.
    suppliers_synced: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    # Documents a spent budget moved past the run (Exact's day): counted, not failed.
    deferred: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    started_at: Mapped[datetime] = _created()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SyncRunItem(Model):
    """One document in one integration within a run; its outcome counts once."""

    __tablename__ = "sync_run_items"

    sync_run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sync_runs.id"), primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    integration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integrations.id"), primary_key=True
    )
    outcome: Mapped[str | None] = mapped_column(String(16))  # synced, failed, deferred


class Notification(Model):
    """The bell: one per finished manual run (and other things a user must see)."""

    __tablename__ = "notifications"
    __table_args__ = (
        # The bell's count and the console's two lists, newest first per read state.
        Index(
            "ix_notifications_partner_unread",
            "partner_id",
            "created_at",
            postgresql_where=text("read_at IS NULL"),
        ),
        Index(
            "ix_notifications_partner_read",
            "partner_id",
            "created_at",
            postgresql_where=text("read_at IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    client_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clients.id"))
    kind: Mapped[str] = mapped_column(String(32))
    sync_run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sync_runs.id"), unique=True)
    reconciliation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("reconciliations.id"), unique=True
    )
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    # What the title and body are made of, to write them in the reader's language
    # (i18n.notifications); title and body hold the English text.
    params: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()


class Reconciliation(Model):
    """Our documents of a period against one integration's entries; the report is written
    once the connector's read is over (reconciliations/)."""

    __tablename__ = "reconciliations"

    id: Mapped[uuid.UUID] = _uuid_pk()
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"))
    integration_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("integrations.id"), index=True)
    period_from: Mapped[date] = mapped_column(Date)
    period_to: Mapped[date] = mapped_column(Date)
    detailed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    trigger: Mapped[str] = mapped_column(String(16))  # manual, nightly
    status: Mapped[str] = mapped_column(String(16))  # running, finished, failed
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    entries_read: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    calls_used: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReconciliationEntry(Model):
    """One remote entry a connector read for a reconciliation (a repeated chunk
    overwrites it)."""

    __tablename__ = "reconciliation_entries"

    reconciliation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reconciliations.id", ondelete="CASCADE"), primary_key=True
    )
    remote_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    entry: Mapped[dict[str, Any]] = mapped_column(JSONB)
