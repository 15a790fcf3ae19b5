"""The connector ledger: an attempt is recorded before the remote call, so an outcome
never learned (crash, timeout, lost response) is found and resolved by lookup.

An attempt holds a lease, fenced and measured on the database clock: ``claim_attempt``
returns a ``Claim`` whose token (the entry's attempt counter) every later write presents,
so a holder that lost its lease (it lapsed, another replica took it) records nothing.
The outcome is recorded together with its result event (the connector's outbox), which
is published after the commit and, if that publish is lost, by ``ResultRelay``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, DateTime, Table, and_, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.db.engine import standalone
from invoicesync_shared.db.models import Integration, LedgerEntry
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.states import LedgerState

# The ledger's own table: statements that load no entry are Core statements on it, so
# they skip the ORM's DML and compile-state bookkeeping (a few per pushed document).
_LEDGER = cast(Table, LedgerEntry.__table__)

DONE = (LedgerState.BOOKED, LedgerState.SENT)

EntryKey = tuple[uuid.UUID, uuid.UUID, int]  # integration, document, generation
AttemptKey = tuple[EntryKey, int]  # an entry and the attempt token a claim holds it with


class Renewal(NamedTuple):
    """One heartbeat round: the attempts whose leases were extended, and those still ours
    whose rows were busy (locked by another transaction) and wait for the next round."""

    renewed: frozenset[AttemptKey]
    busy: frozenset[AttemptKey]


def _attempt_keys(rows: Iterable[Any]) -> Iterator[AttemptKey]:
    """The (entry, attempt) keys of rows that select an attempt's four key columns."""
    for integration_id, document_id, generation, attempts in rows:
        yield (integration_id, document_id, generation), attempts


@dataclass(frozen=True)
class Claim:
    """A held lease. ``token`` is the attempt counter it was taken with; ``previous`` the
    entry as it was before (None: the first attempt); ``held_until`` the local monotonic
    time (loop clock) by which the lease surely still holds, measured from before the
    claim was sent — a duration, so a skewed wall clock does not matter."""

    key: EntryKey
    token: int
    previous: LedgerEntry | None
    held_until: float


class Ledger:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], system: str) -> None:
        self._sessionmaker = sessionmaker
        self._standalone = standalone(sessionmaker)  # one statement: one round trip
        self._system = system

    async def find(
        self, integration_id: uuid.UUID, document_id: uuid.UUID, generation: int
    ) -> LedgerEntry | None:
        async with self._standalone() as session:
            return await session.get(LedgerEntry, (integration_id, document_id, generation))

    async def find_with_integration(
        self, integration_id: uuid.UUID, document_id: uuid.UUID, generation: int
    ) -> tuple[LedgerEntry | None, Integration | None]:
        """The entry (as ``find``) and its integration in one statement: the two reads
        every sync request starts with, one round trip and one session instead of two."""
        entry_of = and_(
            LedgerEntry.integration_id == Integration.id,
            LedgerEntry.document_id == document_id,
            LedgerEntry.generation == generation,
        )
        query = (
            select(Integration, LedgerEntry)
            .outerjoin(LedgerEntry, entry_of)
            .where(Integration.id == integration_id)
        )
        async with self._standalone() as session:
            row = (await session.execute(query)).first()
        if row is None:  # no integration: the entry alone, as find reads it (rare)
            return await self.find(integration_id, document_id, generation), None
        return row[1], row[0]

    async def latest_remote_id(
        self, integration_id: uuid.UUID, document_id: uuid.UUID
    ) -> str | None:
        """The remote id the integration gave ``document_id`` (its latest generation that
        has one)."""
        async with self._standalone() as session:
            found = await session.scalar(
                select(_LEDGER.c.remote_id)
                .where(
                    _LEDGER.c.integration_id == integration_id,
                    _LEDGER.c.document_id == document_id,
                    _LEDGER.c.remote_id.is_not(None),
                )
                .order_by(_LEDGER.c.generation.desc())
                .limit(1)
            )
        return str(found) if found else None

    async def documents_of(
        self, integration_id: uuid.UUID, remote_ids: Collection[str]
    ) -> dict[str, tuple[uuid.UUID, str]]:
        """Which of ``remote_ids`` this integration booked: remote id → (document id, our
        reference), the latest generation's (a reconciliation reads no entry it knows)."""
        if not remote_ids:
            return {}
        async with self._sessionmaker() as session:
            rows = await session.execute(
                select(_LEDGER.c.remote_id, _LEDGER.c.document_id, _LEDGER.c.reference)
                .where(
                    _LEDGER.c.integration_id == integration_id,
                    _LEDGER.c.remote_id.in_(list(remote_ids)),
                )
                .order_by(_LEDGER.c.generation)
            )
            return {str(r.remote_id): (r.document_id, r.reference) for r in rows}

    async def sent_since(
        self, integration_id: uuid.UUID, since: datetime
    ) -> dict[str, tuple[uuid.UUID, str]]:
        """Remote id → (document id, our reference) of what the integration booked or
        sent since ``since`` (a reconciliation of a system that cannot list by date)."""
        async with self._sessionmaker() as session:
            rows = await session.execute(
                select(_LEDGER.c.remote_id, _LEDGER.c.document_id, _LEDGER.c.reference)
                .where(
                    _LEDGER.c.integration_id == integration_id,
                    _LEDGER.c.remote_id.is_not(None),
                    _LEDGER.c.state.in_(DONE),
                    _LEDGER.c.sent_at >= since,
                )
                .order_by(_LEDGER.c.generation)
            )
            return {str(r.remote_id): (r.document_id, r.reference) for r in rows}

    async def claim_attempt(
        self,
        integration_id: uuid.UUID,
        document_id: uuid.UUID,
        generation: int,
        reference: str,
        *,
        lease: timedelta,
        revision: int | None = None,
    ) -> Claim | None:
        """Mark the attempt before the call, as a lease: None while another worker holds a
        live one (a rebalance can hand one document to two replicas at once), so only one
        of them ever calls the accounting system. A lapsed lease (its holder died or
        stalled) is taken over; the taker looks the document up first, as for any unknown
        outcome. A finished entry is taken again only for an edit newer than the one it
        pushed (``revision``; None: never). Every time comparison is the database's."""
        key = (integration_id, document_id, generation)
        started = asyncio.get_running_loop().time()
        expires = _clock() + lease
        first_attempt = (
            insert(_LEDGER)
            .values(
                integration_id=integration_id,
                document_id=document_id,
                generation=generation,
                system=self._system,
                reference=reference,
                state=LedgerState.ATTEMPTING,
                revision=0,
                attempts=1,
                lease_expires_at=expires,
            )
            .on_conflict_do_nothing()
            .returning(_LEDGER.c.attempts)
        )
        # Most claims are a document's first attempt: one statement, one round trip.
        async with self._standalone() as session:
            if await session.scalar(first_attempt) is not None:
                return Claim(key, 1, None, started + _s(lease))
        async with self._sessionmaker.begin() as session:
            row = (
                await session.execute(
                    select(LedgerEntry, _LEDGER.c.lease_expires_at > _clock())
                    .where(*_is(key))
                    .with_for_update()
                )
            ).first()
            if row is None:  # gone since (pruned): a first attempt again
                inserted = await session.scalar(first_attempt)
                # A concurrent first claim won the insert: it holds the lease now.
                return None if inserted is None else Claim(key, 1, None, started + _s(lease))
            entry, held = row
            if held:
                return None
            if entry.state in DONE and (revision is None or entry.revision >= revision):
                return None
            session.expunge(entry)  # the caller gets it as it was before this claim
            token = await session.scalar(
                update(_LEDGER)
                .where(*_is(key))
                .values(
                    state=LedgerState.ATTEMPTING,
                    attempts=_LEDGER.c.attempts + 1,
                    lease_expires_at=expires,
                    updated_at=_clock(),
                )
                .returning(_LEDGER.c.attempts)
            )
            assert token is not None  # the row is locked
            return Claim(key, token, entry, started + _s(lease))

    async def renew(self, claim: Claim, lease: timedelta) -> bool:
        """Extend a live lease still ours; False when it lapsed or another took it."""
        async with self._sessionmaker.begin() as session:
            renewed = await session.scalar(
                update(_LEDGER)
                .where(*_held(claim))
                .values(lease_expires_at=_clock() + lease)
                .returning(_LEDGER.c.attempts)
            )
            return renewed is not None

    async def renew_all(self, claims: Collection[Claim], lease: timedelta) -> Renewal:
        """Extend every live lease of ``claims`` still ours in one statement (one
        connection, however many pushes are in flight).

        Rows another transaction has locked right now (a claim check of another replica,
        our own outcome being recorded) are skipped, not waited for: one busy row must not
        hold up, and time out, the renewal of all the others. They come back as ``busy``
        when a plain read still shows them ours (renewed in the next round); a claim in
        neither set lapsed or was taken by another attempt (``_held``'s fencing)."""
        if not claims:
            return Renewal(frozenset(), frozenset())
        wanted = [(*claim.key, claim.token) for claim in claims]
        attempt = tuple_(
            _LEDGER.c.integration_id,
            _LEDGER.c.document_id,
            _LEDGER.c.generation,
            _LEDGER.c.attempts,
        )
        live = (_LEDGER.c.state == LedgerState.ATTEMPTING, _LEDGER.c.lease_expires_at > _clock())
        free = (
            select(_LEDGER.c.integration_id, _LEDGER.c.document_id, _LEDGER.c.generation)
            .where(attempt.in_(wanted), *live)
            .with_for_update(skip_locked=True)
        )
        async with self._sessionmaker.begin() as session:
            rows = await session.execute(
                update(_LEDGER)
                .where(
                    tuple_(
                        _LEDGER.c.integration_id,
                        _LEDGER.c.document_id,
                        _LEDGER.c.generation,
                    ).in_(free),
                    attempt.in_(wanted),
                    *live,
                )
                .values(lease_expires_at=_clock() + lease)
                .returning(*attempt.clauses)
            )
            renewed = frozenset(_attempt_keys(rows))
            rest = [key for key in wanted if ((key[0], key[1], key[2]), key[3]) not in renewed]
            busy: frozenset[AttemptKey] = frozenset()
            if rest:
                still = await session.execute(
                    select(*attempt.clauses).where(attempt.in_(rest), *live)
                )
                busy = frozenset(_attempt_keys(still))
        return Renewal(renewed, busy)

    async def record_outcome(
        self,
        claim: Claim,
        *,
        state: str,
        result: Callable[[datetime], Envelope],
        remote_id: str | None = None,
        booking_number: str | None = None,
        error: str | None = None,
        revision: int | None = None,
    ) -> Envelope | None:
        """Record the attempt's outcome and its result event (``result`` of the database's
        time) in one statement, and free the lease. Only the holder of the live lease
        records: None, and nothing written, when it lapsed or another attempt took it.

        Two round trips, no transaction around them: the database's time (the event is
        made of it), then one UPDATE fenced on the live lease at the moment it writes."""
        async with self._standalone() as session:
            now = await session.scalar(select(_clock()))
            assert now is not None
            envelope = result(now)
            values: dict[str, object] = {
                "state": state,
                "last_error": error,
                "lease_expires_at": None,  # even "still unknown": free for the next try
                "updated_at": now,
                "result_event": envelope.to_json(),
                "result_published_at": None,
            }
            if remote_id is not None:
                values["remote_id"] = remote_id
            if booking_number is not None:
                values["booking_number"] = booking_number
            if revision is not None:
                values["revision"] = revision
            if state in DONE:
                values["sent_at"] = now
            recorded = await session.scalar(
                update(_LEDGER).where(*_held(claim)).values(**values).returning(_LEDGER.c.attempts)
            )
            return envelope if recorded is not None else None

    async def release(
        self, claim: Claim, *, error: str, state: str = LedgerState.ATTEMPTING
    ) -> bool:
        """Free the lease with the outcome still open (the next try looks the document up
        first) and no result: nothing was decided about the document. False when the
        lease was no longer ours. ``state``: what the entry is again when the attempt
        provably sent nothing (a deferral), so a next try need not look it up."""
        async with self._standalone() as session:
            released = await session.scalar(
                update(_LEDGER)
                .where(*_held(claim))
                .values(state=state, last_error=error, lease_expires_at=None)
                .returning(_LEDGER.c.attempts)
            )
            return released is not None

    async def record_number(
        self,
        integration_id: uuid.UUID,
        document_id: uuid.UUID,
        generation: int,
        booking_number: str,
    ) -> None:
        """A sent draft got its number remotely (read back, not pushed: no lease)."""
        async with self._standalone() as session:
            await session.execute(
                update(_LEDGER)
                .where(*_is((integration_id, document_id, generation)))
                .values(
                    state=LedgerState.BOOKED, booking_number=booking_number, updated_at=_clock()
                )
            )

    async def mark_published(self, key: EntryKey, event_id: str) -> None:
        """The recorded result ``event_id`` reached the bus (a newer one stays due)."""
        async with self._standalone() as session:
            await session.execute(
                update(_LEDGER)
                .where(
                    *_is(key),
                    _LEDGER.c.result_event["id"].astext == event_id,
                    _LEDGER.c.result_published_at.is_(None),
                )
                .values(result_published_at=_clock())
            )

    async def unpublished(
        self, *, older_than: timedelta, limit: int
    ) -> list[tuple[EntryKey, Envelope]]:
        """Recorded results of this system whose publish was not confirmed ``older_than``
        after they were recorded (the publisher crashed or the bus was away)."""
        async with self._sessionmaker() as session:
            rows = await session.execute(
                select(
                    _LEDGER.c.integration_id,
                    _LEDGER.c.document_id,
                    _LEDGER.c.generation,
                    _LEDGER.c.result_event,
                )
                .where(
                    _LEDGER.c.result_event.is_not(None),
                    _LEDGER.c.result_published_at.is_(None),
                    _LEDGER.c.updated_at < _clock() - older_than,
                    _LEDGER.c.system == self._system,
                )
                .order_by(_LEDGER.c.updated_at)
                .limit(limit)
            )
            return [
                ((integration_id, document_id, generation), Envelope.from_json(event))
                for integration_id, document_id, generation, event in rows
                if event is not None
            ]


def _clock() -> ColumnElement[datetime]:
    """The database's time now (not the transaction's start): every lease decision's."""
    return func.clock_timestamp(type_=DateTime(timezone=True))


def _is(key: EntryKey) -> tuple[ColumnElement[bool], ...]:
    integration_id, document_id, generation = key
    return (
        _LEDGER.c.integration_id == integration_id,
        _LEDGER.c.document_id == document_id,
        _LEDGER.c.generation == generation,
    )


def _held(claim: Claim) -> tuple[ColumnElement[bool], ...]:
    """The entry, while ``claim`` is its current attempt and the lease has not lapsed."""
    return (
        *_is(claim.key),
        and_(
            _LEDGER.c.attempts == claim.token,
            _LEDGER.c.state == LedgerState.ATTEMPTING,
            _LEDGER.c.lease_expires_at > _clock(),
        ),
    )


def _s(lease: timedelta) -> float:
    return lease.total_seconds()
