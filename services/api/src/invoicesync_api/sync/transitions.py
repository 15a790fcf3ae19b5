"""Which connector answer may move a document's sync state: forward only, per generation.

Results arrive late and more than once (redelivered requests, re-emitted results), so a
settled outcome — ``booked``, ``sent``, a permanent ``failed`` — is never overridden
within its generation; a new request (retry, sync run, dead-letter replay) first puts the
row back to ``pending``, and a reset starts a new generation. An answer that repeats the
current outcome is no transition either: nothing is announced twice.

    from \\ to                 booked  sent  failed  ambiguous
    pending, sending           yes     yes   yes     yes
    ambiguous (unknown)        yes     yes   yes     look-alikes found
    ambiguous (look-alikes)    yes     yes   yes     -
    failed (retryable)         yes     yes   another reason, or permanent
    sent                       yes     -     -       -
    booked                     -       -     -       -
    failed (permanent)         -       -     -       -

Look-alikes found (``ambiguous_match``) wait for a person: a lookup that could not get
through (``outcome_unknown``, from a redelivered copy of an earlier request) is no news
over one that found them, and must not announce the document as unknown again. A
person's retry makes it ``pending``, so what that retry finds applies.

Payment status and a remote entry found missing are read-backs of a booked document, not
answers to a request; they are applied outside this table (sync/results.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from invoicesync_api.db.models import DocumentSync
from invoicesync_shared.events.results import BookingAssigned, DocumentSent, SyncFailed
from invoicesync_shared.states import FailureCode, SyncStatus

# Answers that mean "nobody knows whether, or to which entry, it was booked": a person or
# a lookup has to settle them, so they are ``ambiguous``, never ``failed``.
AMBIGUOUS_CODES = frozenset({FailureCode.OUTCOME_UNKNOWN, FailureCode.AMBIGUOUS_MATCH})
# A request is out for these: the next answer answers it.
AWAITING = frozenset({SyncStatus.PENDING, SyncStatus.SENDING, SyncStatus.AMBIGUOUS})

Answer = BookingAssigned | DocumentSent | SyncFailed


@dataclass(frozen=True)
class Outcome:
    """What an answer would make of the row: its status and, for a failure, its reason."""

    status: str
    error_code: str | None = None
    retryable: bool | None = None


def outcome_of(answer: Answer) -> Outcome:
    if isinstance(answer, BookingAssigned):
        return Outcome(SyncStatus.BOOKED)
    if isinstance(answer, DocumentSent):
        return Outcome(SyncStatus.SENT)
    status = SyncStatus.AMBIGUOUS if answer.code in AMBIGUOUS_CODES else SyncStatus.FAILED
    return Outcome(status, answer.code, answer.retryable)


def current(state: DocumentSync) -> Outcome:
    if state.status in (SyncStatus.FAILED, SyncStatus.AMBIGUOUS):
        return Outcome(state.status, state.error_code, state.error_retryable)
    return Outcome(state.status)


def settled(state: DocumentSync) -> bool:
    """Nothing but a new request or a new generation changes it."""
    return state.status == SyncStatus.BOOKED or (
        state.status == SyncStatus.FAILED and not state.error_retryable
    )


def allowed(state: DocumentSync, answer: Answer) -> bool:
    """Whether ``answer`` moves ``state`` forward (and so is applied and announced)."""
    target, now = outcome_of(answer), current(state)
    if settled(state) or target == now:
        return False
    if state.status == SyncStatus.SENT:
        return target.status == SyncStatus.BOOKED
    if now.error_code == FailureCode.AMBIGUOUS_MATCH:
        return target.error_code != FailureCode.OUTCOME_UNKNOWN
    return True  # pending, sending, ambiguous, failed (retryable): any new answer
