"""The connector runtime: consume sync requests, push through a ``Connector`` exactly
once per document and generation, and report the outcome.

It owns what every connector needs the same way: filtering by system, the ledger and
its fenced lease, lookup after an unknown outcome, retries, dead letters, result events
(recorded with the outcome, with deterministic ids) and metrics.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, cast

import structlog
from aiokafka import ConsumerRecord
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from invoicesync_shared import clock
from invoicesync_shared.bus.producer import Publisher
from invoicesync_shared.bus.slots import without_slot
from invoicesync_shared.connectors.connection import report_connection_lost
from invoicesync_shared.connectors.customers import CustomerLinks
from invoicesync_shared.connectors.deadline import PushOverdue, within_deadline
from invoicesync_shared.connectors.document_files import DocumentFiles
from invoicesync_shared.connectors.errors import (
    AmbiguousMatch,
    AuthorizationLost,
    Deferred,
    PermanentError,
    TransientError,
    UnknownOutcome,
)
from invoicesync_shared.connectors.lease import LEASES_LOST, LeaseKeeper, LeaseLost, while_holding
from invoicesync_shared.connectors.ledger import Claim, EntryKey, Ledger
from invoicesync_shared.connectors.periodic import result_envelope
from invoicesync_shared.connectors.preview import (
    PREVIEW_ATTEMPTS,
    PreviewAnswer,
    Previewer,
    PreviewProblem,
    asks_again,
)
from invoicesync_shared.connectors.protocol import Booking, Connector, PushContext, S
from invoicesync_shared.connectors.reconciliation import ReconciliationReader
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.db.engine import standalone
from invoicesync_shared.db.models import Integration, LedgerEntry
from invoicesync_shared.events import topics
from invoicesync_shared.events.documents import (
    PURCHASE_KINDS,
    SYNC_REQUEST_TYPES,
    DocumentSnapshot,
    DocumentSyncRequested,
    DocumentUpdated,
    SyncTarget,
)
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.events.reconciliations import ReconciliationRequested
from invoicesync_shared.events.results import (
    BookingAssigned,
    DocumentSent,
    SyncDeferred,
    SyncFailed,
    SyncResult,
)
from invoicesync_shared.events.undeliverable import Undeliverable
from invoicesync_shared.metrics import PUSH_SECONDS, SYNC_FAILURES
from invoicesync_shared.states import FailureCode, IntegrationStatus, LedgerState
from invoicesync_shared.tracing import continue_trace

log = structlog.get_logger()

# Renewed every third of it while a push runs (waits included); a dead or stalled
# holder's document is taken over after it lapses, on the database's clock.
DEFAULT_LEASE = timedelta(seconds=120)
LEASE_POLL_SECONDS = 1.0
# How long a write whose answer was lost may take to show in the system's lookups (a late
# commit, a list that lags). No vendor promises read-after-write for its lists: be strict.
DEFAULT_SETTLE = timedelta(seconds=30)
# The most one push may take, retries, settle times and in-place waits included: an
# attempt ends at its first failure, so six attempts of one timeout, two settle times, a
# minute's wait and the backoff stay inside (Yuki's defaults, the longest: about 21
# minutes). Past it, the push is stopped as an unknown outcome instead of holding its
# client's lane.
DEFAULT_PUSH_DEADLINE = timedelta(minutes=30)

# A refused grant is reported once per grant, and again this long after while pushes still
# meet it: a report lost on its way (a broker that lost its messages before the API read
# them) must not leave the integration "active" in the API, its documents pending, for ever.
# The API ignores a report about an integration it already marked broken.
REPORT_LOSS_AGAIN_AFTER = timedelta(minutes=1)
# Statuses the API set after a lost connection: documents wait for the reconnect.
WAITING_FOR_RECONNECT = frozenset(
    {IntegrationStatus.NEEDS_REAUTHORIZATION, IntegrationStatus.ERROR}
)
# May exist remotely: the ledger stays "attempting", so the next try looks it up first.
UNRESOLVED = frozenset(
    {FailureCode.OUTCOME_UNKNOWN, FailureCode.INTERNAL_ERROR, FailureCode.AMBIGUOUS_MATCH}
)

OUTCOMES = Counter("invoicesync_sync_outcomes_total", "Push outcomes", ["system", "outcome"])
HELD = Counter(
    "invoicesync_sync_held_total",
    "Requests left pending, unsent: the integration is paused or waits to be connected again",
    ["system", "reason"],
)
RETRIES = Counter("invoicesync_sync_retries_total", "Transient failures retried", ["system"])
DEAD_LETTERS = Counter("invoicesync_dead_letters_total", "Events dead-lettered", ["system"])
LEASE_WAITS = Counter(
    "invoicesync_lease_waits_total", "Waits for another worker's attempt on a document", ["system"]
)
SETTLE_WAITS = Counter(
    "invoicesync_settle_waits_total",
    "Lookups held back until a write in doubt had time to show",
    ["system"],
)


class _Waiting(Exception):
    """A push deferred (``Deferred``), and whether an earlier write of the attempt is
    still in doubt (then the next try must look the document up first)."""

    def __init__(self, cause: Deferred, *, in_doubt: bool) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.in_doubt = in_doubt


def _state_to_release(claim: Claim, *, in_doubt: bool) -> str:
    """What a released entry is again when the attempt sent nothing: "attempting" while
    an earlier write is in doubt, else what it was ("failed" — not sent, nothing to look
    up — for a first attempt)."""
    if in_doubt:
        return LedgerState.ATTEMPTING
    previous = claim.previous
    return previous.state if previous is not None else LedgerState.FAILED


@dataclass(frozen=True)
class _Job:
    """One document for one integration, as requested by one event."""

    envelope: Envelope
    request: DocumentSyncRequested
    target: SyncTarget

    @property
    def document(self) -> DocumentSnapshot:
        return self.request.document


class ConnectorRuntime(Generic[S]):
    """Runs one system's ``Connector``, handing it each integration's settings as that
    system's model."""

    def __init__(
        self,
        connector: Connector[S],
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        producer: Publisher,
        retry: RetryPolicy | None = None,
        lease: timedelta = DEFAULT_LEASE,
        settle: timedelta = DEFAULT_SETTLE,
        deadline: timedelta = DEFAULT_PUSH_DEADLINE,
    ) -> None:
        self.connector = connector
        self.system = connector.system
        self._sessionmaker = sessionmaker
        self._standalone = standalone(sessionmaker)  # one statement: one round trip
        self._producer = producer
        self._ledger = Ledger(sessionmaker, connector.system)
        self._retry = retry or RetryPolicy()
        self._lease = lease
        self._keeper = LeaseKeeper(self._ledger, lease)  # one heartbeat for all our pushes
        self._settle = settle.total_seconds()
        self._deadline = deadline.total_seconds()
        # Per integration, the credentials (by issue time) whose loss was reported, and when.
        self._reported_losses: dict[uuid.UUID, dict[datetime | None, datetime]] = {}
        self.lease_waited = asyncio.Event()  # set once this runtime waited on another's lease
        self._source = f"/connectors/{connector.system}"
        self._reconciliations = ReconciliationReader(
            connector,
            system=connector.system,
            settings_model=connector.settings_model,
            sessionmaker=sessionmaker,
            publisher=producer,
            ledger=self._ledger,
        )

    async def handle(self, envelope: Envelope) -> None:
        """Consumer entry point: every target of our system, one after the other; a
        reconciliation's read for one of our integrations."""
        if envelope.type == ReconciliationRequested.TYPE:
            await self._reconciliations.handle(envelope)
            return
        request_type = SYNC_REQUEST_TYPES.get(envelope.type)
        if request_type is None:
            return
        try:
            request = request_type.model_validate(envelope.data)
        except ValidationError as exc:
            log.error("invalid sync request", event_id=envelope.id, errors=exc.error_count())
            return
        for target in request.targets:
            if target.system == self.system:
                job = _Job(envelope, request, target)
                with continue_trace(envelope.traceparent, f"push {self.system}", _attrs(job)):
                    await self.process(job)

    async def process(self, job: _Job) -> None:
        bound = log.bind(
            document_id=str(job.document.id),
            integration_id=str(job.target.integration_id),
            client_id=str(job.document.client_id),
            event_id=job.envelope.id,
        )
        # The ledger first: a document already booked is reported booked, whatever has
        # happened to the integration since (a settled outcome is never turned "failed").
        entry, integration = await self._ledger.find_with_integration(
            job.target.integration_id, job.document.id, job.target.generation
        )
        if _already_done(entry, job):
            assert entry is not None
            await self._report_done(job, entry)
            return
        if integration is None or integration.status == IntegrationStatus.DEACTIVATED:
            bound.info("integration gone or deactivated; skipped")
            return
        if integration.status in WAITING_FOR_RECONNECT:
            # The API announced it; the document stays pending and is asked for again
            # once the integration is connected again. Its loss was heard: one after the
            # reconnect is news, even with the same credentials (a Yuki key whose
            # administration was given back, an Exact division restored).
            self._reported_losses.pop(integration.id, None)
            HELD.labels(self.system, "reconnect").inc()
            bound.info("integration waits to be connected again; document left pending")
            return
        if integration.status == IntegrationStatus.PAUSED:
            # The API paused it (the failure brake: one cause refused document after
            # document). The document stays pending and is asked for again on resume.
            HELD.labels(self.system, "paused").inc()
            bound.info("integration paused; document left pending")
            return
        if integration.status != IntegrationStatus.ACTIVE:
            attempts = entry.attempts if entry is not None else 0
            message = _inactive_message(integration)
            await self._fail(job, FailureCode.INTEGRATION_INACTIVE, message, True, attempt=attempts)
            return
        if job.document.kind not in self.connector.kinds:
            # A kind newer than this connector (purchase documents): refused for good,
            # nothing sent. Retried by hand once the connector books the kind.
            bound.info("document kind not supported", kind=job.document.kind)
            attempts = entry.attempts if entry is not None else 0
            message = _unsupported_kind_message(self.system, job.document.kind)
            await self._fail(job, FailureCode.KIND_NOT_SUPPORTED, message, False, attempt=attempts)
            return
        claim, entry = await self._claim(job, entry)
        if claim is not None:
            await self._push(job, integration, claim, bound)
        elif entry is not None and _already_done(entry, job):
            await self._report_done(job, entry)
        else:
            bound.warning("another worker still holds this document; it will report")

    async def _claim(
        self, job: _Job, entry: LedgerEntry | None
    ) -> tuple[Claim | None, LedgerEntry | None]:
        """Take the attempt's lease; while another worker holds a live one, wait for its
        outcome. Returns our claim (None: not ours), and the entry as it was before it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3 * self._lease.total_seconds()
        target = job.target
        newer = job.document.revision if isinstance(job.request, DocumentUpdated) else None
        while True:
            claim = await self._ledger.claim_attempt(
                target.integration_id,
                job.document.id,
                target.generation,
                job.document.number,
                lease=self._lease,
                revision=newer,
            )
            if claim is not None:
                return claim, claim.previous
            if loop.time() > deadline:
                return None, entry
            self.lease_waited.set()
            LEASE_WAITS.labels(self.system).inc()
            async with without_slot():
                await asyncio.sleep(LEASE_POLL_SECONDS)
            entry = await self._ledger.find(
                target.integration_id, job.document.id, target.generation
            )
            if _already_done(entry, job):
                return None, entry

    async def _push(
        self,
        job: _Job,
        integration: Integration,
        claim: Claim,
        bound: structlog.typing.FilteringBoundLogger,
    ) -> None:
        entry = claim.previous
        previous = _booking_of(entry)
        is_update = isinstance(job.request, DocumentUpdated) and previous is not None
        # It may exist remotely already: an attempt whose outcome we never learned (in
        # doubt: it may still be settling), or a document whose sync state was reset
        # (deactivate, repair) — adopt, not repeat.
        in_doubt = entry is not None and entry.state == LedgerState.ATTEMPTING
        must_look_up = in_doubt or (entry is None and job.target.generation > 0)

        def still_ours() -> None:
            self._keeper.check(claim)

        try:
            ctx = self._context(
                integration,
                job.document.number,
                is_update=is_update,
                previous=previous,
                tried_before=entry is not None,
            )
            # The runtime's heartbeat keeps the lease through every wait; losing it stops
            # the push, and so does the push's deadline.
            pushing = self._with_retries(
                ctx, job.document, must_look_up, still_ours, in_doubt=in_doubt
            )
            booking, adopted = await while_holding(
                within_deadline(pushing, self._deadline), keeper=self._keeper, claim=claim
            )
        except LeaseLost as exc:
            self._lost(bound, str(exc))
        except PushOverdue as exc:
            bound.error("push overdue; stopped", seconds=exc.seconds, awaiting=exc.awaiting)
            message = _overdue_message(self.system, exc)
            await self._record_failure(
                job, claim, FailureCode.OUTCOME_UNKNOWN, message, True, dead_letter=str(exc)
            )
        except _Waiting as waiting:
            bound.info("push deferred", reason=waiting.cause.reason, until=str(waiting.cause.until))
            await self._defer(job, claim, waiting, bound)
        except AuthorizationLost as exc:
            bound.warning("authorisation lost; document left pending", reason=exc.reason)
            await self._connection_lost(claim, integration, exc, bound)
        except (AmbiguousMatch, PermanentError) as exc:
            await self._refused(job, claim, exc, bound)
        except (TransientError, UnknownOutcome) as exc:
            bound.warning("push gave up after retries", error=str(exc))
            unknown = isinstance(exc, UnknownOutcome)
            code = FailureCode.OUTCOME_UNKNOWN if unknown else FailureCode.UNAVAILABLE
            message = _gave_up_message(self.system, exc)
            await self._record_failure(job, claim, code, message, True, dead_letter=str(exc))
        except Exception as exc:
            # A bug or an answer no mapping foresaw: the lease must not stay taken (the
            # partition would wait for it to lapse), and the outcome is unknown, so the
            # next try looks the document up first. The user sees it and can retry.
            bound.exception("push failed unexpectedly")
            await self._record_failure(
                job,
                claim,
                FailureCode.INTERNAL_ERROR,
                _internal_message(self.system),
                True,
                dead_letter=f"internal error: {exc!r}",
            )
        else:
            bound.info("pushed", booking_number=booking.booking_number, adopted=adopted)
            self._reported_losses.pop(integration.id, None)  # connected again
            await self._record_success(job, claim, booking, adopted, bound)

    async def _with_retries(
        self,
        ctx: PushContext[S],
        document: DocumentSnapshot,
        must_look_up: bool,
        still_ours: Callable[[], None],
        *,
        in_doubt: bool,
    ) -> tuple[Booking, bool]:
        loop = asyncio.get_running_loop()
        look_up = must_look_up
        # Since when a write in doubt may be settling. An earlier attempt's own moment is
        # unknown (the ledger holds when it was claimed or renewed; its push came later,
        # maybe after a rate-limit wait), so it counts from now: never a wait too short.
        in_doubt_since = loop.time() if in_doubt else None
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(self._retried_in_place),
                wait=self._retry.wait,
                stop=stop_after_attempt(self._retry.attempts),
                reraise=True,
            ):
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        RETRIES.labels(self.system).inc()
                        still_ours()  # a stalled process must not push on a lost lease
                    if look_up and not ctx.is_update:
                        found = await self._look_up(ctx, document, in_doubt_since, still_ours)
                        if found is not None:
                            return found, True
                    look_up = False
                    self._check_file(ctx, document)  # after a lookup: one sent is found
                    started = time.perf_counter()
                    try:
                        return await self.connector.push(ctx, document), False
                    except UnknownOutcome:
                        look_up = True
                        in_doubt_since = loop.time()  # it may commit until the call ends
                        raise
                    finally:
                        PUSH_SECONDS.labels(self.system).observe(time.perf_counter() - started)
        except PermanentError as exc:
            # Refused, not executed (no token, a 401 or 403, a refused call): nothing of
            # it was sent. A write in doubt earlier (or one a lookup had still to settle,
            # or a lookup's own call refused, or a lookup that adopted and then failed to
            # finish it) stays in doubt: the next try looks it up, never pushes again.
            exc.in_doubt = look_up
            raise
        except TransientError as exc:
            if isinstance(exc, Deferred) or not self._retry.waits_in_place(exc):
                # A spent budget, or a wait too long to hold the lane for: the same holds.
                raise _Waiting(_deferral(self.system, exc), in_doubt=look_up) from exc
            if look_up:
                # The last failure was a lookup's, so an earlier outcome is still unknown:
                # the document may exist remotely, and the next try must look it up first.
                raise UnknownOutcome(str(exc)) from exc
            raise
        raise AssertionError("unreachable: tenacity reraises")

    def _check_file(self, ctx: PushContext[S], document: DocumentSnapshot) -> None:
        """Refuse a file the system would not take before anything is sent (an edit
        sends no file)."""
        if not ctx.is_update and (refusal := self._file_refusal(document)) is not None:
            raise refusal

    def _file_refusal(self, document: DocumentSnapshot) -> PermanentError | None:
        """Why the system would not take the document's file, naming its limit
        (connectors.file_limits); None if it has none or the system takes it."""
        if document.file is None:
            return None
        return self.connector.file_limits.refusal(document.file)

    def _retried_in_place(self, exc: BaseException) -> bool:
        """Transient trouble, not a spent budget or a wait too long to hold the lane for."""
        if isinstance(exc, Deferred):
            return False
        if isinstance(exc, TransientError):
            return self._retry.waits_in_place(exc)
        return isinstance(exc, UnknownOutcome)

    async def _look_up(
        self,
        ctx: PushContext[S],
        document: DocumentSnapshot,
        in_doubt_since: float | None,
        still_ours: Callable[[], None],
    ) -> Booking | None:
        """The remote document, if it exists. A write in doubt is first given the settle
        time to show, and "not found" is believed only when a second lookup, a settle
        time later, agrees: one stale read (a lagging list or replica) must not make us
        push again. Two reads apart catch what one read at twice the wait would, and
        usually answer after one wait."""
        if in_doubt_since is None or self._settle <= 0:
            return await self.connector.find_by_reference(ctx, document)
        SETTLE_WAITS.labels(self.system).inc()
        await self._hold_until(in_doubt_since + self._settle, still_ours)
        found = await self.connector.find_by_reference(ctx, document)
        if found is not None:
            return found
        await self._hold_until(asyncio.get_running_loop().time() + self._settle, still_ours)
        return await self.connector.find_by_reference(ctx, document)

    async def _hold_until(self, deadline: float, still_ours: Callable[[], None]) -> None:
        """Wait for this document alone (other documents go on); the heartbeat keeps its
        lease; the consumer's slot goes to other tenants meanwhile."""
        async with without_slot():
            await asyncio.sleep(max(0.0, deadline - asyncio.get_running_loop().time()))
        still_ours()

    async def _record_success(
        self,
        job: _Job,
        claim: Claim,
        booking: Booking,
        adopted: bool,
        bound: structlog.typing.FilteringBoundLogger,
    ) -> None:
        state = LedgerState.BOOKED if booking.booking_number else LedgerState.SENT
        recorded = await self._ledger.record_outcome(
            claim,
            state=state,
            remote_id=booking.remote_id,
            booking_number=booking.booking_number,
            revision=job.document.revision,
            result=lambda sent_at: self._envelope(job, _result_for(job, booking, adopted, sent_at)),
        )
        if recorded is None:
            self._lost(bound, "the lease was lost before the outcome was recorded")
            return
        OUTCOMES.labels(self.system, state).inc()
        await self._publish_recorded(claim.key, recorded)

    async def _refused(
        self,
        job: _Job,
        claim: Claim,
        exc: AmbiguousMatch | PermanentError,
        bound: structlog.typing.FilteringBoundLogger,
    ) -> None:
        if isinstance(exc, AmbiguousMatch):
            # Neither adopted nor pushed: a bookkeeper checks the entries, then retries.
            bound.warning("lookup found entries that may be ours", code=exc.code)
            await self._record_failure(job, claim, exc.code, exc.message, retryable=True)
        else:
            bound.info("push refused", code=exc.code, in_doubt=exc.in_doubt)
            if exc.in_doubt:
                # It may be booked there: not a refusal to act on (posting it again would
                # book it twice) but an unknown outcome, looked up on the next try.
                message = _refused_in_doubt_message(self.system, exc)
                await self._record_failure(
                    job, claim, FailureCode.OUTCOME_UNKNOWN, message, True, in_doubt=True
                )
            else:
                await self._record_failure(job, claim, exc.code, exc.message, retryable=False)

    async def _record_failure(
        self,
        job: _Job,
        claim: Claim,
        code: str,
        message: str,
        retryable: bool,
        *,
        dead_letter: str | None = None,
        in_doubt: bool = False,
    ) -> None:
        """Record a failure (``dead_letter``: the reason the request is also parked;
        ``in_doubt``: an earlier write of it may exist remotely)."""
        failed = SyncFailed(
            **_ids(job),
            code=code,
            message=message,
            retryable=retryable,
            dead_lettered=dead_letter is not None,
        )
        recorded = await self._ledger.record_outcome(
            claim,
            # An unresolved outcome stays "attempting", so the next try looks it up first.
            state=LedgerState.ATTEMPTING if in_doubt or code in UNRESOLVED else LedgerState.FAILED,
            error=f"{code}: {message}",
            result=lambda _: self._envelope(job, failed, attempt=claim.token),
        )
        if recorded is None:
            bound = log.bind(document_id=str(job.document.id), event_id=job.envelope.id)
            self._lost(bound, "the lease was lost before the failure was recorded")
            return
        OUTCOMES.labels(self.system, "failed").inc()
        SYNC_FAILURES.labels(self.system, code).inc()
        if dead_letter is not None:
            await self._dead_letter(job, dead_letter)
        await self._publish_recorded(claim.key, recorded)

    def _lost(self, bound: structlog.typing.FilteringBoundLogger, why: str) -> None:
        """A push that lost its lease records and reports nothing: the next holder looks
        the document up and reports its outcome."""
        LEASES_LOST.labels(self.system).inc()
        bound.warning("lease lost; outcome left to the next holder", reason=why)

    async def _connection_lost(
        self,
        claim: Claim,
        integration: Integration,
        exc: AuthorizationLost,
        bound: structlog.typing.FilteringBoundLogger,
    ) -> None:
        """Not a failure of the document: release its attempt and tell the API, which
        alone changes the integration's status; the document stays pending meanwhile.
        The refused call wrote nothing: the entry is "attempting" again (the next try
        looks it up first) only if an earlier write of it is still in doubt."""
        state = _state_to_release(claim, in_doubt=exc.in_doubt)
        if not await self._ledger.release(claim, error=f"{exc.code}: {exc.message}", state=state):
            self._lost(bound, "the lease was lost before the attempt was released")
        OUTCOMES.labels(self.system, "connection_lost").inc()
        # Once per refused grant and process: every waiting document meets the same
        # refusal, and the API needs to hear it once (a reconnect brings new tokens;
        # a push that succeeds, or the integration seen waiting, makes it news again).
        # A document still pushed a while later means the API has not heard: again.
        issued = exc.credentials_issued_at or integration.token_issued_at
        reported = self._reported_losses.setdefault(integration.id, {})
        last, now = reported.get(issued), clock.now()
        if last is None or now - last >= REPORT_LOSS_AGAIN_AFTER:
            await report_connection_lost(self._producer, integration, exc)
            reported[issued] = now

    async def _defer(
        self,
        job: _Job,
        claim: Claim,
        waiting: _Waiting,
        bound: structlog.typing.FilteringBoundLogger,
    ) -> None:
        """Not a failure: the document waits for the budget. Its ledger entry goes back to
        what it was (nothing was sent; "attempting" if a write is still in doubt, "failed"
        — not sent, no lookup needed — for a first attempt), and the API is told when it
        may go on. Published directly, not recorded: a lost report only means the sweeper
        asks again and the deferral is said again (for a spent budget the same outcome, so
        the same id)."""
        state = _state_to_release(claim, in_doubt=waiting.in_doubt)
        cause = waiting.cause
        if not await self._ledger.release(claim, error=f"{cause.reason}: {cause}", state=state):
            self._lost(bound, "the lease was lost before the deferral was recorded")
            return
        OUTCOMES.labels(self.system, "deferred").inc()
        deferred = SyncDeferred(**_ids(job), waiting_until=cause.until, reason=cause.reason)
        await self._producer.publish(deferred.TOPIC, self._envelope(job, deferred))

    async def _report_done(self, job: _Job, entry: LedgerEntry) -> None:
        """A redelivered request for a finished push: say the outcome again, push nothing.
        The same outcome for the same run is the same event: the one recorded, if it is
        the one this request asks for, else one built from the ledger with its own id."""
        stored = entry.result_event
        flags = stored["data"] if stored is not None else {}
        booking = Booking(
            entry.remote_id or "",
            entry.booking_number,
            customer_created=bool(flags.get("customer_created", False)),
        )
        sent_at = entry.sent_at or entry.created_at  # rows from before sent_at was kept
        result = _result_for(job, booking, bool(flags.get("adopted", False)), sent_at)
        envelope = self._envelope(job, result)
        if stored is not None and stored["id"] == envelope.id:
            envelope = Envelope.from_json(stored)
        await self._producer.publish(result.TOPIC, envelope)

    async def _fail(
        self,
        job: _Job,
        code: str,
        message: str,
        retryable: bool,
        *,
        attempt: int,
    ) -> None:
        """Report a failure no attempt recorded (nothing was tried)."""
        failed = SyncFailed(**_ids(job), code=code, message=message, retryable=retryable)
        await self._producer.publish(failed.TOPIC, self._envelope(job, failed, attempt=attempt))

    def _envelope(self, job: _Job, result: SyncResult, *, attempt: int | None = None) -> Envelope:
        return result_envelope(
            result, system=self.system, client_id=job.document.client_id, attempt=attempt
        )

    async def _publish_recorded(self, key: EntryKey, envelope: Envelope) -> None:
        """Publish a result recorded with its outcome; if that fails, the result relay
        publishes it later (same id, so the API applies it once)."""
        try:
            await self._producer.publish(topics.SYNC_RESULTS, envelope)
        except Exception:
            log.exception("result not published; the relay will", event_id=envelope.id)
            return
        await self._ledger.mark_published(key, envelope.id)

    @property
    def ledger(self) -> Ledger:
        return self._ledger

    async def _dead_letter(self, job: _Job, reason: str) -> None:
        DEAD_LETTERS.labels(self.system).inc()
        data = {**job.envelope.data, "targets": [job.target.model_dump(mode="json")]}
        envelope = Envelope(
            type=job.envelope.type,
            source=self._source,
            subject=job.envelope.subject,
            key=job.envelope.key,
            data={**data, "dead_letter_reason": reason},
        )
        await self._producer.publish(topics.dead_letter_topic(self.system), envelope)

    async def dead_letter_record(self, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        """For the bus: a message no handler could process is parked with its reason."""
        DEAD_LETTERS.labels(self.system).inc()
        envelope = Envelope(
            type=Undeliverable.TYPE,
            source=self._source,
            subject=f"{record.topic}/{record.partition}/{record.offset}",
            key=(record.key or b"").decode(errors="replace"),
            data=Undeliverable(
                reason=reason, value=(record.value or b"").decode(errors="replace")
            ).model_dump(),
        )
        await self._producer.publish(topics.dead_letter_topic(self.system), envelope)

    def _context(
        self,
        integration: Integration,
        reference: str,
        *,
        is_update: bool = False,
        previous: Booking | None = None,
        tried_before: bool = False,
    ) -> PushContext[S]:
        settings = self._settings(integration)
        scope = self.connector.scope(integration, settings)
        links = functools.partial(
            CustomerLinks,
            self._sessionmaker,
            client_id=integration.client_id,
            system=self.system,
            scope=scope,
        )
        return PushContext(
            integration=integration,
            settings=settings,
            customers=links(role="customer"),
            suppliers=links(role="supplier"),
            files=DocumentFiles(self._sessionmaker),
            reference=reference,
            is_update=is_update,
            previous=previous,
            tried_before=tried_before,
        )

    async def preview(self, integration_id: uuid.UUID, document: DocumentSnapshot) -> PreviewAnswer:
        """What a push of ``document`` would send and meet, read-only; what stops the
        lookups is a problem of the answer, never an exception (except an unknown
        integration: ``PermanentError("not_found")``)."""
        integration = await self._integration(integration_id)
        if integration is None or integration.system != self.system:
            raise PermanentError("not_found", "No such integration for this connector.")
        if document.kind not in self.connector.kinds:
            # As the push refuses it: a sales preview of a purchase document would pass
            # (and the failure brake's auto-resume would believe it).
            message = _unsupported_kind_message(self.system, document.kind)
            problem = PreviewProblem(FailureCode.KIND_NOT_SUPPORTED, "kind", message)
            return PreviewAnswer(None, None, [problem])
        if (refusal := self._file_refusal(document)) is not None:
            return PreviewAnswer(None, None, [PreviewProblem.of(refusal, "file")])
        if not hasattr(self.connector, "preview"):
            problem = PreviewProblem(
                "preview_unavailable", None, f"The {self.system} connector cannot preview."
            )
            return PreviewAnswer(None, None, [problem])
        previewer = cast(Previewer[S], self.connector)
        try:
            ctx = self._context(integration, document.number)
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(asks_again),
                wait=self._retry.wait,
                stop=stop_after_attempt(PREVIEW_ATTEMPTS),
                reraise=True,
            ):
                with attempt:
                    return await previewer.preview(ctx, document)
        except PermanentError as exc:  # AuthorizationLost too: reconnect, as it says
            return PreviewAnswer(None, None, [PreviewProblem.of(exc)])
        except (TransientError, UnknownOutcome) as exc:
            message = f"{self.system} could not be asked now ({exc}); preview again in a while."
            return PreviewAnswer(None, None, [PreviewProblem("preview_unavailable", None, message)])
        raise AssertionError("unreachable: tenacity reraises")

    async def verify(self, integration_id: uuid.UUID) -> dict[str, object]:
        integration = await self._integration(integration_id)
        if integration is None or integration.system != self.system:
            raise PermanentError("not_found", "No such integration for this connector.")
        return await self.connector.verify(integration, self._settings(integration))

    def _settings(self, integration: Integration) -> S:
        """The integration's stored settings as this system's model. Raises
        ``ValidationError`` for settings the API would not have stored."""
        return self.connector.settings_model.stored(integration.settings)

    async def _integration(self, integration_id: uuid.UUID) -> Integration | None:
        async with self._standalone() as session:
            return await session.get(Integration, integration_id)


def _attrs(job: _Job) -> dict[str, str]:
    """The push span's attributes: ids only, never document content."""
    return {
        "document_id": str(job.document.id),
        "integration_id": str(job.target.integration_id),
        "system": job.target.system,
    }


def _ids(job: _Job) -> dict[str, object]:
    return {
        "document_id": job.document.id,
        "integration_id": job.target.integration_id,
        "generation": job.target.generation,
        "sync_run_id": job.request.sync_run_id,
        "revision": job.document.revision,
    }


def _result_for(job: _Job, booking: Booking, adopted: bool, sent_at: datetime) -> SyncResult:
    if booking.booking_number is None:
        return DocumentSent(
            **_ids(job),
            remote_id=booking.remote_id,
            sent_at=sent_at,
            customer_created=booking.customer_created,
        )
    return BookingAssigned(
        **_ids(job),
        booking_number=booking.booking_number,
        remote_id=booking.remote_id,
        sent_at=sent_at,
        customer_created=booking.customer_created,
        adopted=adopted,
    )


def _already_done(entry: LedgerEntry | None, job: _Job) -> bool:
    if entry is None or entry.state not in (LedgerState.BOOKED, LedgerState.SENT):
        return False
    # An edit is pushed again only if it is newer than what was pushed.
    return not isinstance(job.request, DocumentUpdated) or entry.revision >= job.document.revision


def _booking_of(entry: LedgerEntry | None) -> Booking | None:
    if entry is None or entry.remote_id is None:
        return None
    return Booking(entry.remote_id, entry.booking_number)


def _inactive_message(integration: Integration) -> str:
    """Why a document of an integration that is not working yet (awaiting consent) was
    not sent; statuses waiting for a reconnect hold their documents instead."""
    # The API's reason is a sentence of its own: one full stop at the end, not two.
    reason = f": {integration.status_reason.rstrip('.')}" if integration.status_reason else ""
    return f"The integration is {integration.status.replace('_', ' ')}{reason}."


def _deferral(system: str, exc: TransientError) -> Deferred:
    """A wait too long to hold in place, as a deferral: the document waits until then."""
    if isinstance(exc, Deferred):
        return exc
    assert exc.retry_after is not None
    until = clock.now() + timedelta(seconds=exc.retry_after)
    message = f"{system} asked to wait until {until.isoformat()} ({exc})."
    return Deferred(message, until=until, reason=exc.wait_reason)


def _gave_up_message(system: str, exc: Exception) -> str:
    if isinstance(exc, UnknownOutcome):
        return (
            f"{system} did not confirm whether the document was booked; it will be looked up "
            "before it is sent again."
        )
    return f"{system} was not reachable after several attempts ({exc}); retry later."


def _refused_in_doubt_message(system: str, exc: PermanentError) -> str:
    return (
        f"{system} did not confirm whether the document was booked, and looking it up there "
        f"was refused ({exc.code}: {exc.message}); it will be looked up again before it is "
        "sent again."
    )


def _overdue_message(system: str, exc: PushOverdue) -> str:
    minutes = max(1, round(exc.seconds / 60))
    span = "1 minute" if minutes == 1 else f"{minutes} minutes"
    return (
        f"Sending to {system} did not finish within {span} and was stopped; it is "
        "looked up there before it is sent again."
    )


def _unsupported_kind_message(system: str, kind: str) -> str:
    return (
        f"Purchase documents are not yet supported by the {system} connector ({kind} not "
        "sent); retry it once the connector books them."
        if kind in PURCHASE_KINDS
        else f"The {system} connector does not book documents of kind {kind}; not sent."
    )


def _internal_message(system: str) -> str:
    return (
        f"invoicesync could not finish sending this document to {system} (an internal "
        "error, logged for support). It is looked up there before it is sent again: retry it."
    )
