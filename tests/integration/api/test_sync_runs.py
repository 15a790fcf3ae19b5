"""Sync runs through the API, with results applied as the result consumer applies them."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import DocumentSync, Notification
from invoicesync_api.sync.results import ResultApplier, apply
from invoicesync_api.workers.scheduler import NightlyScheduler
from invoicesync_api.workers.sweeper import PendingSweeper
from invoicesync_shared.db.models import OutboxMessage
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.events.results import (
    BookingAssigned,
    DocumentSent,
    PaymentStatusChanged,
    SyncFailed,
    SyncResult,
)
from tests.integration.api.conftest import add_integration, invoice, until_it_waits_on_a_lock


async def active_integration(
    sessionmaker: async_sessionmaker[AsyncSession], client_id: str, *, nightly: bool = False
) -> uuid.UUID:
    return await add_integration(sessionmaker, client_id, nightly=nightly)


async def deliver(sessionmaker: async_sessionmaker[AsyncSession], result: SyncResult) -> Envelope:
    envelope = Envelope.wrap(result, source="/tests", subject=str(result.document_id), key="k")
    await ResultApplier(sessionmaker).handle(envelope)
    return envelope


async def run_notifications(
    sessionmaker: async_sessionmaker[AsyncSession], run_id: str
) -> list[Notification]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(Notification).where(Notification.sync_run_id == uuid.UUID(run_id))
        )
        return list(rows)


def booked(
    document_id: str, integration_id: uuid.UUID, run_id: str | None, number: str
) -> BookingAssigned:
    return BookingAssigned(
        document_id=uuid.UUID(document_id),
        integration_id=integration_id,
        booking_number=number,
        remote_id=f"r-{number}",
        sent_at=datetime.now(UTC),
        customer_created=True,
        sync_run_id=uuid.UUID(run_id) if run_id else None,
    )


async def relayed(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Every outbox row published, as the relay would have done by now."""
    async with sessionmaker.begin() as session:
        await session.execute(update(OutboxMessage).values(published_at=datetime.now(UTC)))


async def test_manual_run_counts_live_and_ends_in_exactly_one_notification(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration = await active_integration(sessionmaker, client_id)
    docs = [
        partner.post("/v1/invoices", json=invoice(client_id, number=f"RUN-{n}")).json()["id"]
        for n in range(3)
    ]
    # Their first sends failed; a manual run for the client sends them again.
    async with sessionmaker.begin() as session:
        await session.execute(
            update(DocumentSync)
            .where(DocumentSync.integration_id == integration)
            .values(status="failed", error_code="unavailable", error_retryable=True)
        )
    run = partner.post("/v1/sync-runs", json={"client_id": client_id})
    assert run.status_code == 202, run.text
    run_id = run.json()["id"]
    assert run.json()["totals"]["documents_total"] == 3
    assert (
        partner.post("/v1/sync-runs", json={"integration_id": str(integration)}).status_code == 409
    )

    first = await deliver(sessionmaker, booked(docs[0], integration, run_id, "26700001"))
    await ResultApplier(sessionmaker).handle(first)  # redelivered: counted once
    progress = partner.get(f"/v1/sync-runs/{run_id}").json()
    assert progress["status"] == "running"
    assert (
        progress["totals"]["documents_synced"] == 1 and progress["totals"]["documents_pending"] == 2
    )

    await deliver(sessionmaker, booked(docs[1], integration, run_id, "26700002"))
    await deliver(
        sessionmaker,
        SyncFailed(
            document_id=uuid.UUID(docs[2]),
            integration_id=integration,
            code="unknown_vat_code",
            message="No VAT code for 9 %.",
            retryable=False,
            sync_run_id=uuid.UUID(run_id),
        ),
    )
    done = partner.get(f"/v1/sync-runs/{run_id}").json()
    assert done["status"] == "finished"
    assert done["totals"] == {
        "documents_total": 3,
        "documents_synced": 2,
        "documents_failed": 1,
        "documents_deferred": 0,
        "customers_synced": 2,
        "suppliers_synced": 0,
        "documents_pending": 0,
    }
    assert (
        done["errors"][0]["code"] == "unknown_vat_code" and done["errors"][0]["number"] == "RUN-2"
    )
    (notification,) = await run_notifications(sessionmaker, run_id)
    assert notification.counts["documents_failed"] == 1
    assert notification.body == "2 of 3 documents synced, 1 failed; 2 new customers created."
    assert notification.errors[0]["message"] == "No VAT code for 9 %."
    listed = partner.get("/v1/notifications", params={"unread": True}).json()
    assert [n["sync_run_id"] for n in listed if n["sync_run_id"] == run_id] == [run_id]
    assert partner.get(f"/v1/invoices/{docs[0]}").json()["booking_number"] == "26700001"


async def test_nightly_run_once_per_night_without_notification(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration = await add_integration(
        sessionmaker, client_id, nightly=True, activated_at=datetime(2026, 11, 20, tzinfo=UTC)
    )
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="NIGHT-1")).json()["id"]
    async with sessionmaker.begin() as session:
        await session.execute(
            update(DocumentSync)
            .where(DocumentSync.integration_id == integration)
            .values(status="failed", error_code="unavailable", error_retryable=True)
        )
    scheduler = NightlyScheduler(sessionmaker)
    two_am_amsterdam = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 02:00 in Europe/Amsterdam
    assert await scheduler.tick(datetime(2026, 11, 23, 23, 0, tzinfo=UTC)) == []  # midnight
    started = await scheduler.tick(two_am_amsterdam)
    runs = [
        r
        for r in partner.get("/v1/sync-runs", params={"client_id": client_id}).json()
        if r["trigger"] == "nightly"
    ]
    assert [r["id"] for r in runs] == [str(s) for s in started] and len(runs) == 1
    assert await scheduler.tick(two_am_amsterdam + timedelta(minutes=1)) == []  # once
    await deliver(sessionmaker, booked(doc, integration, runs[0]["id"], "26700009"))
    assert partner.get(f"/v1/sync-runs/{runs[0]['id']}").json()["status"] == "finished"
    assert await run_notifications(sessionmaker, runs[0]["id"]) == []


async def outbox_rows(sessionmaker: async_sessionmaker[AsyncSession], document_id: str) -> int:
    async with sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.envelope["subject"].astext == document_id)
            )
            or 0
        )


@pytest.mark.usefixtures("only_this_tests_integrations")
async def test_sweeper_asks_again_for_what_stays_pending(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await active_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="SWEEP-1")).json()["id"]
    sweeper = PendingSweeper(sessionmaker, pending_after=timedelta(minutes=10))
    later = datetime.now(UTC) + timedelta(minutes=11)
    await sweeper.sweep_once(later)
    assert await outbox_rows(sessionmaker, doc) == 1  # still unpublished: the relay owns it
    await relayed(sessionmaker)
    assert await sweeper.sweep_once(datetime.now(UTC)) == 0  # not stale yet

    await sweeper.sweep_once(later)
    assert await outbox_rows(sessionmaker, doc) == 2
    await sweeper.sweep_once(later)  # its new request has not left yet: not asked again
    assert await outbox_rows(sessionmaker, doc) == 2
    await relayed(sessionmaker)
    await sweeper.sweep_once(later)  # the second wait is twice as long: not yet
    assert await outbox_rows(sessionmaker, doc) == 2
    await sweeper.sweep_once(datetime.now(UTC) + timedelta(minutes=21))
    assert await outbox_rows(sessionmaker, doc) == 3


@pytest.mark.usefixtures("only_this_tests_integrations")
async def test_sweeper_leaves_alone_what_waits_behind_a_working_connector(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Pending long, but its integration's connector answered an older request a moment
    ago: it is queued behind a backlog, not lost, so it is not asked again yet."""
    integration = await active_integration(sessionmaker, client_id)
    done = partner.post("/v1/invoices", json=invoice(client_id, number="Q-1")).json()["id"]
    waiting = partner.post("/v1/invoices", json=invoice(client_id, number="Q-2")).json()["id"]
    await relayed(sessionmaker)
    sweeper = PendingSweeper(sessionmaker, pending_after=timedelta(minutes=10))
    await deliver(sessionmaker, booked(done, integration, None, "70001"))
    # Requested fifteen minutes ago; the older request was answered five minutes ago.
    async with sessionmaker.begin() as session:
        await session.execute(
            update(DocumentSync)
            .where(DocumentSync.document_id == uuid.UUID(waiting))
            .values(requested_at=datetime.now(UTC) - timedelta(minutes=15))
        )
        await session.execute(
            update(DocumentSync)
            .where(DocumentSync.document_id == uuid.UUID(done))
            .values(
                requested_at=datetime.now(UTC) - timedelta(minutes=16),
                answered_at=datetime.now(UTC) - timedelta(minutes=5),
            )
        )
    assert await sweeper.sweep_once(datetime.now(UTC)) == 0
    assert await outbox_rows(sessionmaker, waiting) == 1

    # No answer for longer than the wait: the connector is idle, so the request was lost.
    assert await sweeper.sweep_once(datetime.now(UTC) + timedelta(minutes=6)) == 1
    assert await outbox_rows(sessionmaker, waiting) == 2


@pytest.mark.usefixtures("only_this_tests_integrations")
async def test_sweeper_does_not_take_a_payment_read_back_for_progress(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A payment read back for a booked document is not an answer to a request: the
    document pending since long ago is asked again all the same."""
    integration = await active_integration(sessionmaker, client_id)
    waiting = partner.post("/v1/invoices", json=invoice(client_id, number="RB-1")).json()["id"]
    paid = partner.post("/v1/invoices", json=invoice(client_id, number="RB-2")).json()["id"]
    await relayed(sessionmaker)
    await deliver(sessionmaker, booked(paid, integration, None, "70002"))
    async with sessionmaker.begin() as session:  # booked long ago, then everything waited
        await session.execute(
            update(DocumentSync)
            .where(DocumentSync.integration_id == integration)
            .values(
                updated_at=datetime.now(UTC) - timedelta(hours=1),
                requested_at=datetime.now(UTC) - timedelta(hours=1),
                answered_at=datetime.now(UTC) - timedelta(hours=1),
            )
        )
    payment = PaymentStatusChanged(
        document_id=uuid.UUID(paid), integration_id=integration, payment_status="paid"
    )
    await deliver(sessionmaker, payment)

    sweeper = PendingSweeper(sessionmaker, pending_after=timedelta(minutes=10))
    assert await sweeper.sweep_once(datetime.now(UTC)) == 1
    assert await outbox_rows(sessionmaker, waiting) == 2


async def gave_up(
    sessionmaker: async_sessionmaker[AsyncSession],
    document_id: str,
    integration_id: uuid.UUID,
    code: str,
) -> None:
    """The connector's retries ran out: dead-lettered, retryable, with ``code``."""
    failed = SyncFailed(
        document_id=uuid.UUID(document_id),
        integration_id=integration_id,
        code=code,
        message="Exact was not reachable.",
        retryable=True,
        dead_lettered=True,
    )
    await deliver(sessionmaker, failed)


@pytest.mark.usefixtures("only_this_tests_integrations")
async def test_sweeper_asks_again_for_what_stays_ambiguous(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """An answer lost and every lookup refused: the connector said ``outcome_unknown``.
    The sweeper asks again (the connector looks it up first), so it does not stay so."""
    integration = await active_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="SWEEP-2")).json()["id"]
    await gave_up(sessionmaker, doc, integration, "outcome_unknown")
    assert partner.get(f"/v1/invoices/{doc}").json()["sync"][0]["status"] == "ambiguous"
    await relayed(sessionmaker)
    sweeper = PendingSweeper(sessionmaker, pending_after=timedelta(minutes=10))

    assert await sweeper.sweep_once(datetime.now(UTC)) == 0  # not for a while
    assert await sweeper.sweep_once(datetime.now(UTC) + timedelta(minutes=11)) == 1
    assert await outbox_rows(sessionmaker, doc) == 2
    # Still unknown until the connector's look-up answers: it may be booked already.
    state = partner.get(f"/v1/invoices/{doc}").json()["sync"][0]
    assert (state["status"], state["error"]["code"]) == ("ambiguous", "outcome_unknown")


@pytest.mark.usefixtures("only_this_tests_integrations")
async def test_an_ambiguous_match_waits_for_a_person(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Entries that may be this document were found: shown as ``ambiguous`` with the
    connector's reason, and never asked again by the sweeper (it would find them again);
    the bookkeeper checks them and retries."""
    integration = await active_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="SWEEP-3")).json()["id"]
    await gave_up(sessionmaker, doc, integration, "ambiguous_match")
    [sync] = partner.get(f"/v1/invoices/{doc}").json()["sync"]
    assert sync["status"] == "ambiguous"
    assert sync["error"]["code"] == "ambiguous_match"
    await relayed(sessionmaker)
    sweeper = PendingSweeper(sessionmaker, pending_after=timedelta(minutes=10))

    await sweeper.sweep_once(datetime.now(UTC) + timedelta(hours=24))  # others' may go
    assert await outbox_rows(sessionmaker, doc) == 1  # this one was not asked again
    assert partner.get(f"/v1/invoices/{doc}").json()["sync"][0]["status"] == "ambiguous"


async def test_dead_letters_are_listed_and_replayed(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration = await active_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="DLQ-1")).json()["id"]
    await gave_up(sessionmaker, doc, integration, "unavailable")
    listed: list[dict[str, Any]] = partner.get("/v1/dead-letters").json()
    assert [d["document_id"] for d in listed if d["document_id"] == doc] == [doc]
    before = await outbox_rows(sessionmaker, doc)
    replayed = partner.post("/v1/dead-letters/replay", json={"integration_id": str(integration)})
    assert replayed.status_code == 202 and replayed.json() == {"documents": 1, "deliveries": 1}
    assert await outbox_rows(sessionmaker, doc) == before + 1
    assert partner.get(f"/v1/invoices/{doc}").json()["sync"][0]["status"] == "pending"


async def test_an_entry_deleted_remotely_is_flagged_for_repair(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    from invoicesync_api.integrations.repository import first_duplicate_date
    from invoicesync_shared.events.audit import RemoteEntryMissing

    integration = await active_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="GONE-1")).json()["id"]
    await deliver(
        sessionmaker,
        BookingAssigned(
            document_id=uuid.UUID(doc),
            integration_id=integration,
            booking_number="26700042",
            remote_id="entry-42",
            sent_at=datetime.now(UTC),
        ),
    )
    await deliver(
        sessionmaker,
        RemoteEntryMissing(
            document_id=uuid.UUID(doc),
            integration_id=integration,
            remote_id="entry-42",
            booking_number="26700042",
            checked_at=datetime.now(UTC),
        ),
    )
    state = partner.get(f"/v1/invoices/{doc}").json()["sync"][0]
    assert state["booking_number"] == "26700042"
    assert state["error"]["code"] == "remote_entry_missing"
    kinds = [
        n["kind"] for n in partner.get("/v1/notifications", params={"client_id": client_id}).json()
    ]
    assert "remote_entry_missing" in kinds
    async with sessionmaker() as session:
        assert str(await first_duplicate_date(session, integration)) == "2026-11-20"


async def test_a_run_over_chosen_documents_counts_the_booked_ones_without_sending_them(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration = await active_integration(sessionmaker, client_id)
    booked_doc, open_doc = (
        partner.post("/v1/invoices", json=invoice(client_id, number=f"CHOSEN-{n}")).json()["id"]
        for n in range(2)
    )
    await deliver(sessionmaker, booked(booked_doc, integration, None, "26700077"))
    before = await outbox_rows(sessionmaker, booked_doc)

    run = partner.post("/v1/sync-runs", json={"document_ids": [booked_doc, open_doc]})
    assert run.status_code == 202, run.text
    totals = run.json()["totals"]

    assert (totals["documents_total"], totals["documents_synced"]) == (2, 1)
    assert await outbox_rows(sessionmaker, booked_doc) == before  # not asked for again
    shown = partner.get(f"/v1/invoices/{booked_doc}").json()["sync"][0]
    assert (shown["status"], shown["booking_number"]) == ("booked", "26700077")
    await deliver(sessionmaker, booked(open_doc, integration, run.json()["id"], "26700078"))
    assert partner.get(f"/v1/sync-runs/{run.json()['id']}").json()["status"] == "finished"


async def requested_targets(
    sessionmaker: async_sessionmaker[AsyncSession], document_id: str
) -> list[set[str]]:
    """The integrations each outbox row of the document asks for, oldest first."""
    async with sessionmaker() as session:
        envelopes = await session.scalars(
            select(OutboxMessage.envelope)
            .where(OutboxMessage.envelope["subject"].astext == document_id)
            .order_by(OutboxMessage.id)
        )
        return [{t["integration_id"] for t in e["data"]["targets"]} for e in envelopes]


async def test_a_run_over_chosen_documents_counts_a_sent_draft_without_sending_it(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Sent and awaiting its number (a Lexware draft) is as settled as booked: counted as
    synced, not delivered a second time."""
    integration = await add_integration(sessionmaker, client_id, system="lexware")
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="SENT-1")).json()["id"]
    sent = DocumentSent(
        document_id=uuid.UUID(doc),
        integration_id=integration,
        remote_id="draft-1",
        sent_at=datetime.now(UTC),
    )
    await deliver(sessionmaker, sent)
    assert partner.get(f"/v1/invoices/{doc}").json()["sync"][0]["status"] == "sent"
    before = await outbox_rows(sessionmaker, doc)

    run = partner.post("/v1/sync-runs", json={"document_ids": [doc]})
    assert run.status_code == 202, run.text

    assert await outbox_rows(sessionmaker, doc) == before
    shown = partner.get(f"/v1/sync-runs/{run.json()['id']}").json()
    assert shown["status"] == "finished"
    assert (shown["totals"]["documents_total"], shown["totals"]["documents_synced"]) == (1, 1)
    assert partner.get(f"/v1/invoices/{doc}").json()["sync"][0]["status"] == "sent"


async def test_a_run_sends_a_document_only_where_it_is_not_booked_yet(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Booked in Exact, failed in Yuki: a run over it asks Yuki alone and counts Exact's
    booking as synced; Exact's booking number stays."""
    exact = await add_integration(sessionmaker, client_id, system="exact")
    yuki = await add_integration(sessionmaker, client_id, system="yuki")
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="PAIR-1")).json()["id"]
    await deliver(sessionmaker, booked(doc, exact, None, "26700091"))
    await deliver(
        sessionmaker,
        SyncFailed(
            document_id=uuid.UUID(doc),
            integration_id=yuki,
            code="unavailable",
            message="Yuki was not reachable.",
            retryable=True,
        ),
    )
    before = await requested_targets(sessionmaker, doc)

    run = partner.post("/v1/sync-runs", json={"document_ids": [doc]})
    assert run.status_code == 202, run.text

    assert await requested_targets(sessionmaker, doc) == [*before, {str(yuki)}]
    totals = run.json()["totals"]
    assert (totals["documents_total"], totals["documents_synced"]) == (2, 1)
    assert totals["documents_pending"] == 1
    states = {s["system"]: s for s in partner.get(f"/v1/invoices/{doc}").json()["sync"]}
    assert (states["exact"]["status"], states["exact"]["booking_number"]) == ("booked", "26700091")
    assert states["yuki"]["status"] == "pending"


async def test_a_run_started_while_a_booking_is_applied_does_not_ask_for_it_again(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The small soak announced one document booked twice: a nightly run read it pending
    while its booking was being applied, then wrote it back to pending; the connector's
    answer to the run booked it, and announced it, again."""
    integration = await active_integration(sessionmaker, client_id)
    document = partner.post("/v1/invoices", json=invoice(client_id, number="RACE-1")).json()["id"]
    await relayed(sessionmaker)

    async with sessionmaker.begin() as applying:  # the result consumer, mid-transaction
        await apply(applying, booked(document, integration, None, "26700042"))
        starting = asyncio.create_task(
            asyncio.to_thread(partner.post, "/v1/sync-runs", json={"client_id": client_id})
        )
        # It waits for the rows the result holds (its sync state, or the integration its
        # writes reference), whichever it reaches first.
        await until_it_waits_on_a_lock(sessionmaker, starting, "%")
    run = await asyncio.wait_for(starting, 20)

    assert run.status_code == 202, run.text
    assert run.json()["status"] == "finished"  # nothing left to send
    async with sessionmaker() as session:
        state = await session.get(DocumentSync, (uuid.UUID(document), integration))
        asked = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.published_at.is_(None))
        )
    assert state is not None and state.status == "booked"
    assert asked == 0
