"""The ledger's own promises, one call at a time: what renewing, releasing, numbering and
publishing leave in the entry, and which leases a heartbeat round reports kept or busy."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)

from invoicesync_api.db.models import Client
from invoicesync_shared.connectors.ledger import Claim, EntryKey, Ledger
from invoicesync_shared.db.models import Integration, LedgerEntry
from invoicesync_shared.events.envelope import Envelope
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.locks import until_it_waits_on_a_lock
from tests.support.round_trips import counting

LEASE = timedelta(seconds=30)


@dataclass
class Entries:
    """A ledger of its own system (so no other test's entries show) and keys for it."""

    ledger: Ledger
    keys: list[EntryKey]
    client: Client
    integration: Integration
    system: str

    def result(self) -> Envelope:
        """A result event (any will do: the ledger stores it)."""
        return booked_event(snapshot(self.client, "REF"), self.integration)


async def _entries(sessionmaker: async_sessionmaker[AsyncSession], count: int) -> Entries:
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    system = f"t{uuid.uuid4().hex[:8]}"
    keys: list[EntryKey] = [(integration.id, uuid.uuid4(), 0) for _ in range(count)]
    return Entries(Ledger(sessionmaker, system), keys, client, integration, system)


async def _claim(ledger: Ledger, key: EntryKey) -> Claim:
    claim = await ledger.claim_attempt(*key, "REF", lease=LEASE)
    assert claim is not None
    return claim


async def _lapse(sessionmaker: async_sessionmaker[AsyncSession], key: EntryKey) -> None:
    """The entry's lease lapses now, on the database's clock."""
    async with sessionmaker.begin() as session:
        await session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.document_id == key[1])
            .values(lease_expires_at=func.clock_timestamp())
        )


async def _lease_left(
    sessionmaker: async_sessionmaker[AsyncSession], key: EntryKey
) -> timedelta | None:
    async with sessionmaker() as session:
        row = (
            await session.execute(
                select(LedgerEntry.lease_expires_at, func.clock_timestamp()).where(
                    LedgerEntry.document_id == key[1]
                )
            )
        ).one()
    expires, now = row
    return None if expires is None else expires - now


async def _record(entries: Entries, claim: Claim, state: str = "booked") -> Envelope:
    envelope = await entries.ledger.record_outcome(
        claim, state=state, result=lambda _: entries.result()
    )
    assert envelope is not None
    return envelope


async def test_a_renewal_extends_a_live_lease_by_the_lease_from_now(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    entries = await _entries(sessionmaker, 1)
    ledger, (key,) = entries.ledger, entries.keys
    claim = await ledger.claim_attempt(*key, "REF", lease=timedelta(seconds=5))
    assert claim is not None
    assert await ledger.renew(claim, timedelta(minutes=10))
    left = await _lease_left(sessionmaker, key)
    assert left is not None and timedelta(minutes=9) < left <= timedelta(minutes=10)
    assert await ledger.claim_attempt(*key, "REF", lease=LEASE) is None  # still held


async def test_a_round_without_claims_renews_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    renewal = await Ledger(sessionmaker, "exact").renew_all([], LEASE)
    assert renewal.renewed == frozenset() and renewal.busy == frozenset()


async def test_a_round_reports_kept_and_busy_leases_and_not_the_lost_ones(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Four attempts in flight: one renews, one's row is locked by another transaction
    (busy: still ours, renewed next round), one lapsed, one was taken by another attempt."""
    entries = await _entries(sessionmaker, 4)
    ledger, keys = entries.ledger, entries.keys
    kept, locked, lapsed, taken = [await _claim(ledger, key) for key in keys]
    await _lapse(sessionmaker, lapsed.key)
    await _lapse(sessionmaker, taken.key)
    assert await ledger.claim_attempt(*taken.key, "REF", lease=LEASE) is not None

    async with sessionmaker.begin() as other:
        await other.execute(
            select(LedgerEntry).where(LedgerEntry.document_id == locked.key[1]).with_for_update()
        )
        renewal = await ledger.renew_all([kept, locked, lapsed, taken], LEASE)
    assert renewal.renewed == {(kept.key, kept.token)}
    assert renewal.busy == {(locked.key, locked.token)}

    everything = await ledger.renew_all([kept, locked], LEASE)
    assert everything.renewed == {(kept.key, kept.token), (locked.key, locked.token)}
    assert everything.busy == frozenset()


class _HeldBeforeCommit:
    """A replica's sessions whose transaction, its work done, waits for ``go`` before it
    commits: its heartbeat round caught with its locks held. ``planner``: settings of the
    transaction (``SET LOCAL``), to give its statements another plan than today's."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], planner: dict[str, str] | None = None
    ) -> None:
        self._sessionmaker = sessionmaker
        self._planner = planner or {}
        self.kw: dict[str, Any] = sessionmaker.kw  # standalone() binds to the same engine
        self.holding = asyncio.Event()
        self.go = asyncio.Event()

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        async with self._sessionmaker.begin() as session:
            for name, value in self._planner.items():
                await session.execute(text(f"SET LOCAL {name} = {value}"))
            yield session
            self.holding.set()
            await self.go.wait()


async def test_a_round_locks_only_its_own_live_leases(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """While one replica's round holds its locks, another replica's round renews its own
    leases (none busy), and a lease of the first that lapsed is taken over at once: the
    round locks the live leases it renews, not every lease of the table, nor its lapsed
    ones. (The rows it must not lock come first in key order: a plan may stop reading at
    the rows it renews.)"""
    one, other = await _entries(sessionmaker, 2), await _entries(sessionmaker, 2)
    mine, theirs = (one, other) if one.integration.id > other.integration.id else (other, one)
    their_claim = await _claim(theirs.ledger, theirs.keys[0])
    lapsed, live = [await _claim(mine.ledger, key) for key in sorted(mine.keys)]
    await _lapse(sessionmaker, lapsed.key)
    held = _HeldBeforeCommit(sessionmaker)
    my_replica = Ledger(cast(async_sessionmaker[AsyncSession], held), mine.system)

    round_ = asyncio.create_task(my_replica.renew_all([live, lapsed], LEASE))
    await asyncio.wait_for(held.holding.wait(), 10)
    try:
        async with asyncio.timeout(10):  # each passes at once, or waits for the round
            theirs_renewed = await theirs.ledger.renew_all([their_claim], LEASE)
            taken_over = await theirs.ledger.claim_attempt(*lapsed.key, "REF", lease=LEASE)
    finally:
        held.go.set()
    renewal = await round_

    assert theirs_renewed.renewed == {(their_claim.key, their_claim.token)}
    assert theirs_renewed.busy == frozenset()
    assert taken_over is not None
    assert renewal.renewed == {(live.key, live.token)}


async def test_a_round_locks_no_other_replicas_lease_whatever_the_plan(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A round's locks come from what it renews, not from the rows its plan happens to
    read: under a plan that reads the locking subselect in full (a hash join, as a big
    round over a big ledger may get), another replica's live lease stays free. The round
    holds leases of two integrations, so no key they share narrows what is read."""
    one, two, other = [await _entries(sessionmaker, 1) for _ in range(3)]
    mine = [await _claim(one.ledger, one.keys[0]), await _claim(one.ledger, two.keys[0])]
    their_claim = await _claim(other.ledger, other.keys[0])
    held = _HeldBeforeCommit(sessionmaker, {"enable_nestloop": "off", "enable_mergejoin": "off"})
    my_replica = Ledger(cast(async_sessionmaker[AsyncSession], held), one.system)

    round_ = asyncio.create_task(my_replica.renew_all(mine, LEASE))
    await asyncio.wait_for(held.holding.wait(), 10)
    try:
        async with asyncio.timeout(10):
            theirs_renewed = await other.ledger.renew_all([their_claim], LEASE)
    finally:
        held.go.set()
    renewal = await round_

    assert theirs_renewed.renewed == {(their_claim.key, their_claim.token)}
    assert theirs_renewed.busy == frozenset()
    assert renewal.renewed == {(claim.key, claim.token) for claim in mine}


async def test_a_release_frees_the_lease_and_keeps_the_reason(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    entries = await _entries(sessionmaker, 1)
    ledger, (key,) = entries.ledger, entries.keys
    claim = await _claim(ledger, key)
    assert await ledger.release(claim, error="rate limited until 12:00", state="failed")
    entry = await ledger.find(*key)
    assert entry is not None
    assert (entry.state, entry.last_error) == ("failed", "rate limited until 12:00")
    assert entry.lease_expires_at is None
    assert not await ledger.release(claim, error="again")  # no longer ours
    assert await ledger.claim_attempt(*key, "REF", lease=LEASE) is not None  # free at once


async def test_a_number_read_back_books_the_entry(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    entries = await _entries(sessionmaker, 2)
    ledger, (key, other) = entries.ledger, entries.keys
    for each in (key, other):  # drafts sent: their numbers come later
        await _record(entries, await _claim(ledger, each), state="sent")
    before = await ledger.find(*key)
    assert before is not None
    await ledger.record_number(*key, "2026-0042")
    entry = await ledger.find(*key)
    assert entry is not None
    assert (entry.state, entry.booking_number) == ("booked", "2026-0042")
    assert entry.updated_at > before.updated_at
    untouched = await ledger.find(*other)
    assert untouched is not None and untouched.booking_number is None


async def test_only_the_recorded_result_is_marked_published_and_only_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    entries = await _entries(sessionmaker, 1)
    ledger, (key,) = entries.ledger, entries.keys
    first = await _record(entries, await _claim(ledger, key))
    # Taken again for an edit: a newer result replaces the first before its publish is confirmed.
    again = await ledger.claim_attempt(*key, "REF", lease=LEASE, revision=1)
    assert again is not None
    newer = await _record(entries, again)
    await ledger.mark_published(key, first.id)
    assert [
        envelope.id for _, envelope in await ledger.unpublished(older_than=timedelta(0), limit=9)
    ] == [newer.id]
    await ledger.mark_published(key, newer.id)
    published = await ledger.find(*key)
    assert published is not None and published.result_published_at is not None
    await ledger.mark_published(key, newer.id)
    again_marked = await ledger.find(*key)
    assert again_marked is not None
    assert again_marked.result_published_at == published.result_published_at
    assert await ledger.unpublished(older_than=timedelta(0), limit=9) == []


async def test_unpublished_results_come_oldest_first_up_to_the_limit(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Only this system's recorded results: not an attempt still without one (older than
    them all), nor another system's."""
    await _unpublished_come_oldest_first(sessionmaker)


async def test_unpublished_results_come_oldest_first_without_the_relays_index(
    unindexed: async_sessionmaker[AsyncSession],
) -> None:
    """As the one before, under a plan that reads the table itself: the order is the
    query's, not the index's (today's plan reads the partial index on ``updated_at``,
    which gives that order whether the query asks for it or not). The backdated result
    was written last, so it lies last in the new table's pages."""
    await _unpublished_come_oldest_first(unindexed)


async def _unpublished_come_oldest_first(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    entries = await _entries(sessionmaker, 4)
    ledger, (open_attempt, *keys) = entries.ledger, entries.keys
    await _claim(ledger, open_attempt)
    recorded = {key: await _record(entries, await _claim(ledger, key)) for key in keys}
    others = await _entries(sessionmaker, 1)
    await _record(others, await _claim(others.ledger, others.keys[0]))
    # The last one's result was recorded long ago: it comes first.
    async with sessionmaker.begin() as session:
        await session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.document_id == keys[2][1])
            .values(updated_at=func.clock_timestamp() - timedelta(hours=1))
        )
    due = await ledger.unpublished(older_than=timedelta(0), limit=2)
    assert [(key, envelope.id) for key, envelope in due] == [
        (keys[2], recorded[keys[2]].id),
        (keys[0], recorded[keys[0]].id),
    ]
    everything = await ledger.unpublished(older_than=timedelta(0), limit=9)
    assert {key for key, _ in everything} == set(keys)
    stale = await ledger.unpublished(older_than=timedelta(minutes=30), limit=9)
    assert [key for key, _ in stale] == [keys[2]]


async def test_two_first_claims_at_once_give_the_lease_to_one(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Two replicas claim a document never tried before at the same moment: the one whose
    insert lost gets no lease."""
    entries = await _entries(sessionmaker, 5)
    for key in entries.keys:
        claims = await asyncio.gather(
            *(entries.ledger.claim_attempt(*key, "REF", lease=LEASE) for _ in range(2))
        )
        assert len([claim for claim in claims if claim is not None]) == 1


async def test_a_finished_entry_is_taken_again_only_for_a_newer_edit(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    entries = await _entries(sessionmaker, 1)
    ledger, (key,) = entries.ledger, entries.keys
    claim = await _claim(ledger, key)
    pushed = await ledger.record_outcome(
        claim, state="booked", result=lambda _: entries.result(), revision=2
    )
    assert pushed is not None
    assert await ledger.claim_attempt(*key, "REF", lease=LEASE) is None  # a redelivery
    assert await ledger.claim_attempt(*key, "REF", lease=LEASE, revision=1) is None
    assert await ledger.claim_attempt(*key, "REF", lease=LEASE, revision=2) is None
    assert await ledger.claim_attempt(*key, "REF", lease=LEASE, revision=3) is not None


async def test_an_outcome_is_recorded_in_two_round_trips_and_only_under_the_live_lease(
    sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    """The database's time, then one fenced UPDATE: no BEGIN, lock or COMMIT around them
    (it was four round trips). A lapsed lease still records nothing."""
    entries = await _entries(sessionmaker, 2)
    kept, lapsed = [await _claim(entries.ledger, key) for key in entries.keys]
    await _lapse(sessionmaker, entries.keys[1])

    with counting(engine) as trips:
        recorded = await entries.ledger.record_outcome(
            kept, state="booked", booking_number="7", result=lambda _: entries.result()
        )
    not_recorded = await entries.ledger.record_outcome(
        lapsed, state="booked", booking_number="8", result=lambda _: entries.result()
    )

    assert trips.total == 2, trips.statements
    assert recorded is not None and not_recorded is None
    entry = await entries.ledger.find(*entries.keys[0])
    assert entry is not None and entry.state == "booked" and entry.booking_number == "7"
    assert entry.lease_expires_at is None and entry.sent_at is not None
    gone = await entries.ledger.find(*entries.keys[1])
    assert gone is not None and gone.booking_number is None and gone.result_event is None


async def test_a_sync_request_reads_its_entry_and_integration_in_one_round_trip(
    sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    """The two reads every sync request starts with are one statement: the entry (or
    none yet) and its integration, as ``find`` and a read of the integration give them."""
    entries = await _entries(sessionmaker, 2)
    claimed, fresh = entries.keys
    await _claim(entries.ledger, claimed)

    with counting(engine) as trips:
        entry, integration = await entries.ledger.find_with_integration(*claimed)
    none_yet, same = await entries.ledger.find_with_integration(*fresh)

    assert trips.total == 1, trips.statements
    assert integration is not None and integration.id == entries.integration.id
    assert entry is not None and (entry.integration_id, entry.document_id) == claimed[:2]
    found = await entries.ledger.find(*claimed)
    assert found is not None and (entry.attempts, entry.state) == (found.attempts, found.state)
    assert none_yet is None and same is not None and same.id == entries.integration.id


@contextlib.asynccontextmanager
async def _a_retry_waiting_for_its_row(
    sessionmaker: async_sessionmaker[AsyncSession], entries: Entries
) -> AsyncIterator[tuple[AsyncSession, asyncio.Task[Claim | None]]]:
    """A lapsed entry's row held in a session of the block's, and a retry's claim waiting
    for it; the block does what it will in that session, committed when it ends."""
    ledger, (key,) = entries.ledger, entries.keys
    await _claim(ledger, key)
    await _lapse(sessionmaker, key)
    async with sessionmaker() as holder:
        await holder.execute(
            select(LedgerEntry).where(LedgerEntry.document_id == key[1]).with_for_update()
        )
        claiming = asyncio.create_task(ledger.claim_attempt(*key, "REF", lease=LEASE))
        await until_it_waits_on_a_lock(sessionmaker, claiming, "SELECT connector_ledger.%")
        assert not claiming.done(), "the claim did not wait for the entry's row"
        yield holder, claiming
        await holder.commit()


async def test_an_entry_pruned_while_its_claim_waits_is_claimed_as_a_first_attempt(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The entry was there when the claim's insert looked (not a first attempt), and is
    pruned while the claim waits for its row: the claim makes the entry again and holds
    its lease as a first attempt, instead of leaving the document to nobody."""
    entries = await _entries(sessionmaker, 1)
    (key,) = entries.keys
    loop = asyncio.get_running_loop()
    before = loop.time()
    async with _a_retry_waiting_for_its_row(sessionmaker, entries) as (pruner, claiming):
        await pruner.execute(delete(LedgerEntry).where(LedgerEntry.document_id == key[1]))
    claim = await asyncio.wait_for(claiming, 10)
    after = loop.time()

    assert claim is not None
    assert (claim.key, claim.token, claim.previous) == (key, 1, None)
    assert before <= claim.held_until - LEASE.total_seconds() <= after
    async with sessionmaker() as session:
        entry = (
            await session.execute(select(LedgerEntry).where(LedgerEntry.document_id == key[1]))
        ).scalar_one()
    assert (entry.state, entry.attempts, entry.revision) == ("attempting", 1, 0)
    left = await _lease_left(sessionmaker, key)
    assert left is not None and LEASE - timedelta(seconds=10) < left <= LEASE


async def test_a_retry_dates_its_entry_when_it_takes_it_not_when_it_began_waiting(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Pruning reads an entry's age from ``updated_at``: a claim that waited for the
    entry's row dates the entry when it took it, after the wait, not at the start of its
    transaction (the column's default, ``now()``)."""
    entries = await _entries(sessionmaker, 1)
    (key,) = entries.keys
    async with _a_retry_waiting_for_its_row(sessionmaker, entries) as (holder, claiming):
        released_at = await holder.scalar(select(func.clock_timestamp()))
    assert await asyncio.wait_for(claiming, 10) is not None
    async with sessionmaker() as session:
        updated_at = await session.scalar(
            select(LedgerEntry.updated_at).where(LedgerEntry.document_id == key[1])
        )
    assert updated_at is not None and released_at is not None
    assert updated_at >= released_at


async def test_an_entry_pruned_and_claimed_afresh_while_a_claim_waits_is_left_to_its_taker(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """An entry pruned while a claim waits for its row, and made again first by another
    worker (its own first attempt): the waiting claim's insert finds it and gets no lease,
    so one worker pushes."""
    entries = await _entries(sessionmaker, 1)
    (key,) = entries.keys
    async with _a_retry_waiting_for_its_row(sessionmaker, entries) as (other, claiming):
        await other.execute(delete(LedgerEntry).where(LedgerEntry.document_id == key[1]))
        integration_id, document_id, generation = key
        other.add(  # another worker's first attempt, as its claim writes it
            LedgerEntry(
                integration_id=integration_id,
                document_id=document_id,
                generation=generation,
                system=entries.system,
                reference="REF",
                state="attempting",
                attempts=1,
                lease_expires_at=func.clock_timestamp() + LEASE,
            )
        )
    assert await asyncio.wait_for(claiming, 10) is None
    async with sessionmaker() as session:
        attempts = await session.scalar(
            select(LedgerEntry.attempts).where(LedgerEntry.document_id == key[1])
        )
    assert attempts == 1  # the other worker's, untouched
