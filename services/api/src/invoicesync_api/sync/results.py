"""Applying connector outcomes to documents' sync state, once per event.

Each event is applied in one transaction together with its inbox row, so a redelivered
event changes nothing; a result for an older generation (the document was reset
meanwhile) is ignored, and an answer that would not move the state forward (a late
failure after ``booked``, the same outcome re-emitted under a new id) changes nothing and
announces nothing (sync/transitions.py).
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Client, Document, DocumentSync
from invoicesync_api.documents import fanout
from invoicesync_api.integrations import brake, connection
from invoicesync_api.integrations import repository as integrations
from invoicesync_api.reconciliations import service as reconciliations
from invoicesync_api.sync import announce, repository, transitions
from invoicesync_api.sync import service as runs
from invoicesync_api.sync.duplicates import flag_if_duplicate, flag_missing_entry
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.audit import AUDIT_TYPES, RemoteEntryMissing
from invoicesync_shared.events.documents import PURCHASE_KINDS, DocumentUpdated
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.events.integrations import IntegrationConnectionLost
from invoicesync_shared.events.reconciliations import (
    RECONCILIATION_RESULT_TYPES,
    ReconciliationEntriesRead,
    ReconciliationRead,
)
from invoicesync_shared.events.results import (
    RESULT_TYPES,
    BookingAssigned,
    DocumentSent,
    PaymentStatusChanged,
    SyncDeferred,
    SyncFailed,
    SyncResult,
)
from invoicesync_shared.states import SyncStatus
from invoicesync_shared.tracing import continue_trace

log = structlog.get_logger()
KNOWN_TYPES: dict[str, type[SyncResult]] = {**RESULT_TYPES, **AUDIT_TYPES}
CONSUMER = "api-results"


class ResultApplier:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def handle(self, envelope: Envelope) -> None:
        if envelope.type in RECONCILIATION_RESULT_TYPES:
            await self._reconciliation(envelope)
            return
        if envelope.type == IntegrationConnectionLost.TYPE:
            await self._connection_lost(envelope)
            return
        result_type = KNOWN_TYPES.get(envelope.type)

        if result_type is None:
            return
        result = result_type.model_validate(envelope.data)
        attributes = {"document_id": str(result.document_id), "event_type": envelope.type}
        with continue_trace(envelope.traceparent, "apply result", attributes):
            async with self._sessionmaker.begin() as session:
                if not await _first_time(session, uuid.UUID(envelope.id)):
                    return
                step = await apply(session, result)
            if step is not None:  # after the commit: see brake.Step
                async with self._sessionmaker.begin() as session:
                    await brake.take(session, step)

    async def _connection_lost(self, envelope: Envelope) -> None:
        event = IntegrationConnectionLost.model_validate(envelope.data)
        async with self._sessionmaker.begin() as session:
            if await _first_time(session, uuid.UUID(envelope.id)):
                await connection.apply_connection_lost(session, event)

    async def _reconciliation(self, envelope: Envelope) -> None:
        """A reconciliation's entries or the end of its read (reconciliations/service)."""
        async with self._sessionmaker.begin() as session:
            if not await _first_time(session, uuid.UUID(envelope.id)):
                return
            if envelope.type == ReconciliationRead.TYPE:
                await reconciliations.read_over(
                    session, ReconciliationRead.model_validate(envelope.data)
                )
            else:
                await reconciliations.entries_read(
                    session, ReconciliationEntriesRead.model_validate(envelope.data)
                )


async def _first_time(session: AsyncSession, event_id: uuid.UUID) -> bool:
    return await repository.is_first_time(session, CONSUMER, event_id)


async def apply(session: AsyncSession, result: SyncResult) -> brake.Step | None:
    """Apply one answer to its document's sync state; returns what the failure brake is to
    do once this has committed (``ResultApplier.handle``): end a run of failures."""
    if isinstance(result, SyncFailed) and not result.retryable:
        # The brake counts it on the integration row: held first, in a sync run's order.
        await integrations.hold_for_counting(session, result.integration_id)
    # A number is locked before its state, its holders with the state (lock_answered).
    number = result.booking_number if isinstance(result, BookingAssigned) else None
    answered = await repository.lock_answered(
        session, result.document_id, result.integration_id, booking_number=number
    )
    if answered is None or answered[0].generation != result.generation:
        log.info("stale or unknown sync result", document_id=str(result.document_id))
        return None
    state, document, integration, holders = answered
    if not isinstance(result, BookingAssigned | DocumentSent | SyncFailed):
        await _apply_aside(session, result, state, integration, document)
        return None
    if state.status in transitions.AWAITING:
        # The connector answered (progress either way); the database clock, as requested_at.
        state.answered_at = func.now()
    state.waiting_until = state.waiting_reason = None  # any answer ends a wait
    if not transitions.allowed(state, result):
        log.info(
            "sync result does not move the state forward",
            document_id=str(result.document_id),
            status=state.status,
            result=type(result).__name__,
        )
        # Its run still learns the answer came, as what the document settled to.
        await _count(session, result, state, document, integration)
        return None
    outcome = transitions.outcome_of(result)
    if await _held(session, result, outcome, integration):
        # Paused meanwhile: nothing was written, the document waits for the resume (pending,
        # shown as waiting) and is sent again then; nothing is announced.
        state.status = SyncStatus.PENDING
        _clear_error(state)
        return None
    state.status = outcome.status
    if isinstance(result, BookingAssigned):
        state.booking_number = result.booking_number
        document.has_booking_number = document.has_booking_number or bool(result.booking_number)
        state.remote_id, state.sent_at = result.remote_id, result.sent_at
        _clear_error(state)
        await flag_if_duplicate(session, state, integration, holders)
    elif isinstance(result, DocumentSent):
        state.remote_id, state.sent_at = result.remote_id, result.sent_at
        _clear_error(state)
    else:
        state.error_code, state.error_message = result.code, result.message
        state.error_retryable = result.retryable
    await announce.document_outcome(session, document, integration, state)
    await _count(session, result, state, document, integration)
    await _push_later_edit(session, result, document, integration)
    return _brake_step(result, integration)


async def _push_later_edit(
    session: AsyncSession,
    result: BookingAssigned | DocumentSent | SyncFailed,
    document: Document,
    integration: Integration,
) -> None:
    """The books took an earlier revision than the document's: it was edited while its
    request (or an earlier edit's) was on its way. Where edits are taken, the edit follows
    now, as for an edit of a booked document; elsewhere the books keep the version sent, as
    the edit's answer warned."""
    if isinstance(result, SyncFailed) or not fanout.takes_edits(integration, document):
        return
    # The document as last committed, row-locked (after this state's lock, the order every
    # answer takes): an edit that committed while this answer was applied is seen here; one
    # still to come waits for this commit and finds the state answered (its own push).
    await session.flush()
    await session.refresh(document, with_for_update=True)
    if result.revision >= document.revision:
        return
    client = await session.get(Client, document.client_id)
    assert client is not None
    await fanout.request_sync(session, document, client, [integration], event_type=DocumentUpdated)


async def _held(
    session: AsyncSession,
    result: BookingAssigned | DocumentSent | SyncFailed,
    outcome: transitions.Outcome,
    integration: Integration,
) -> bool:
    """A permanent failure counts for the failure brake (integrations/brake.py) and may
    pause the integration; one arriving once it is paused is held instead: the document
    stays pending for the resume. Returns whether it is held."""
    if not isinstance(result, SyncFailed):
        return False
    if outcome.status != SyncStatus.FAILED or outcome.retryable:
        return False
    if result.code in brake.NOT_COUNTED:
        return False
    verdict = await brake.permanent_failure(session, integration, result.code, result.message)
    return verdict == brake.Brake.HELD


def _brake_step(result: SyncResult, integration: Integration) -> brake.Step | None:
    """A success ends a run of failures: after the commit (see brake.Step)."""
    if isinstance(result, SyncFailed) or not integration.failure_streak_count:
        return None
    return brake.Step(integration.id)


async def _count(
    session: AsyncSession,
    result: SyncResult,
    state: DocumentSync,
    document: Document,
    integration: Integration,
) -> None:
    failed = state.status in (SyncStatus.FAILED, SyncStatus.AMBIGUOUS)
    await runs.record(
        session,
        result,
        number=document.number,
        system=integration.system,
        purchase=document.kind in PURCHASE_KINDS,
        error_code=(state.error_code or "unknown") if failed else None,
        error_message=(state.error_message or "") if failed else None,
    )


async def _apply_aside(
    session: AsyncSession,
    result: SyncResult,
    state: DocumentSync,
    integration: Integration,
    document: Document,
) -> None:
    """What is not an answer of the transition table: read-backs and deferrals."""
    if isinstance(result, PaymentStatusChanged):
        state.payment_status = result.payment_status
    elif isinstance(result, RemoteEntryMissing):
        if state.status == SyncStatus.BOOKED and state.remote_id == result.remote_id:
            await flag_missing_entry(session, state, integration, document)
    elif isinstance(result, SyncDeferred) and _defer(state, result):
        # Its run counts it as moved on and does not wait for the reset.
        await runs.record_deferred(
            session, result, number=document.number, system=integration.system
        )


def _defer(state: DocumentSync, result: SyncDeferred) -> bool:
    """The connector holds the document back until ``waiting_until`` (a spent budget):
    it stays pending, says until when and why, and the sweeper asks again then. Only a
    document still waiting for an answer waits (returns whether it does); nothing is
    announced (no outcome yet)."""
    if state.status != SyncStatus.PENDING:
        return False
    state.answered_at = func.now()  # an answer: the connector is alive and working
    state.waiting_until, state.waiting_reason = result.waiting_until, result.reason
    return True


def _clear_error(state: DocumentSync) -> None:
    state.error_code = state.error_message = state.error_retryable = None
