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

from invoicesync_api.db.models import Document, DocumentSync, Notification
from invoicesync_api.sync import service as runs
from invoicesync_api.sync.results import ResultApplier, apply
from invoicesync_api.sync.schemas import SyncRunIn
from invoicesync_api.workers.scheduler import NightlyScheduler
from invoicesync_api.workers.sweeper import PendingSweeper
from invoicesync_shared.db.models import Integration, OutboxMessage
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.events.results import (
    BookingAssigned,
    DocumentSent,
    PaymentStatusChanged,
    SyncFailed,
    SyncResult,
)
from tests.integration.api.conftest import add_integration, invoice, new_partner
from tests.support.locks import until_it_waits_on_a_lock


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


# Nightly runs at 02:00 in Europe/Amsterdam (add_integration's hour, a Dutch client's zone).
SINCE = datetime(2026, 11, 20, tzinfo=UTC)
TWO_AM_AMSTERDAM = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def new_client(partner: httpx.Client, name: str) -> str:
    response = partner.post("/v1/clients", json={"name": name, "country": "NL"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def dead_letters(partner: httpx.Client) -> list[tuple[str, str]]:
    listed: list[dict[str, Any]] = partner.get("/v1/dead-letters").json()
    return [(d["number"], d["code"]) for d in listed]


async def test_dead_letters_list_what_a_replay_would_send_oldest_first(
    api_url: str,
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Listed: the partner's documents whose retries ran out (failed or unknown outcome) in
    active integrations, the oldest document first. Left out: a refusal sending again cannot
    change, look-alike entries a person has to check, another partner's, and those of an
    integration no longer active. A replay for one client sends only its documents."""
    other_client = new_client(partner, "Slagerij Bakker")
    first = await add_integration(sessionmaker, client_id)
    second = await add_integration(sessionmaker, other_client)

    def post(client: str, number: str) -> str:
        return str(partner.post("/v1/invoices", json=invoice(client, number=number)).json()["id"])

    newer, older = post(client_id, "DL-NEWER"), post(client_id, "DL-OLDER")
    refused, lookalike = post(client_id, "DL-REFUSED"), post(client_id, "DL-LOOKALIKE")
    elsewhere = post(other_client, "DL-ELSEWHERE")
    async with sessionmaker.begin() as session:  # created after DL-NEWER, dated an hour before
        await session.execute(
            update(Document)
            .where(Document.id == uuid.UUID(older))
            .values(created_at=Document.created_at - timedelta(hours=1))
        )
    await gave_up(sessionmaker, newer, first, "unavailable")
    await gave_up(sessionmaker, older, first, "outcome_unknown")
    await gave_up(sessionmaker, lookalike, first, "ambiguous_match")
    await gave_up(sessionmaker, elsewhere, second, "unavailable")
    await deliver(
        sessionmaker,
        SyncFailed(
            document_id=uuid.UUID(refused),
            integration_id=first,
            code="validation",
            message="No VAT code for 9 %.",
            retryable=False,
        ),
    )
    with new_partner(api_url, "Other Accountants") as stranger:
        theirs = new_client(stranger, "Their Client")
        their_integration = await add_integration(sessionmaker, theirs)
        their_doc = stranger.post("/v1/invoices", json=invoice(theirs, number="DL-THEIRS"))
        await gave_up(sessionmaker, their_doc.json()["id"], their_integration, "unavailable")
        assert dead_letters(stranger) == [("DL-THEIRS", "unavailable")]

    assert dead_letters(partner) == [
        ("DL-OLDER", "outcome_unknown"),
        ("DL-NEWER", "unavailable"),
        ("DL-ELSEWHERE", "unavailable"),
    ]
    before = await outbox_rows(sessionmaker, newer)
    replayed = partner.post("/v1/dead-letters/replay", json={"client_id": other_client})
    assert replayed.status_code == 202 and replayed.json() == {"documents": 1, "deliveries": 1}
    assert await outbox_rows(sessionmaker, newer) == before  # the other client's is not sent
    assert dead_letters(partner) == [
        ("DL-OLDER", "outcome_unknown"),
        ("DL-NEWER", "unavailable"),
    ]
    async with sessionmaker.begin() as session:  # disconnected: nothing could send them
        await session.execute(
            update(Integration).where(Integration.id == first).values(status="deactivated")
        )
    assert dead_letters(partner) == []


@pytest.mark.usefixtures("only_this_tests_integrations")
async def test_each_nightly_integration_gets_one_run_a_night(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Each integration with nightly sync on gets its own run at its hour: one's run does
    not stand in for another's. One a night, also once that run has finished (nothing to
    send: it finishes as it starts); the next night another. None without nightly sync."""
    other_client = new_client(partner, "Slagerij Bakker")
    third_client = new_client(partner, "Drukkerij Smit")
    first = await add_integration(sessionmaker, client_id, nightly=True, activated_at=SINCE)
    second = await add_integration(sessionmaker, other_client, nightly=True, activated_at=SINCE)
    await add_integration(sessionmaker, third_client, nightly=False, activated_at=SINCE)
    scheduler = NightlyScheduler(sessionmaker)

    async def tick(now: datetime) -> list[uuid.UUID]:
        started = await scheduler.tick(now)
        by_id = {r["id"]: r for r in partner.get("/v1/sync-runs").json()}
        assert {by_id[str(s)]["status"] for s in started} <= {"finished"}
        return sorted(uuid.UUID(i) for s in started for i in by_id[str(s)]["integration_ids"])

    assert await tick(TWO_AM_AMSTERDAM) == sorted([first, second])
    assert await tick(TWO_AM_AMSTERDAM + timedelta(minutes=1)) == []
    assert await tick(TWO_AM_AMSTERDAM + timedelta(days=1)) == sorted([first, second])


@pytest.mark.usefixtures("only_this_tests_integrations")
async def test_a_manual_run_after_the_hour_does_not_stand_in_for_the_nightly_run(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The night's run is due until a nightly run started: a manual run started after the
    hour (and over by the next tick) does not count as one."""
    integration = await add_integration(sessionmaker, client_id, nightly=True, activated_at=SINCE)
    async with sessionmaker.begin() as session:
        row = await session.get(Integration, integration)
        assert row is not None
        manual = await runs.start(
            session,
            SyncRunIn(integration_id=integration),
            row.partner_id,
            started_at=TWO_AM_AMSTERDAM + timedelta(seconds=30),
        )
        assert manual.status == "finished"  # nothing to send
    started = await NightlyScheduler(sessionmaker).tick(TWO_AM_AMSTERDAM + timedelta(minutes=1))
    [run] = [r for r in partner.get("/v1/sync-runs").json() if r["trigger"] == "nightly"]
    assert [str(s) for s in started] == [run["id"]]
    assert run["integration_ids"] == [str(integration)]


async def test_the_run_list_holds_the_partners_100_newest_runs_newest_first(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """101 runs: the list shows the 100 newest, newest first; the oldest is left out."""
    integration = await add_integration(sessionmaker, client_id)
    async with sessionmaker.begin() as session:
        row = await session.get(Integration, integration)
        assert row is not None
        ids = []
        for minutes in range(101):  # stored oldest first
            run = await runs.start(
                session,
                SyncRunIn(integration_id=integration),
                row.partner_id,
                started_at=SINCE + timedelta(minutes=minutes),
            )
            ids.append(str(run.id))
    listed = [r["id"] for r in partner.get("/v1/sync-runs").json()]
    assert listed == ids[:0:-1]


async def test_two_answers_of_one_run_applied_at_once_are_both_counted(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The second answer waits for the run the first is counting in, then counts on top of
    it: the run ends with both documents synced, finished."""
    integration = await add_integration(sessionmaker, client_id)
    first, second = (
        str(partner.post("/v1/invoices", json=invoice(client_id, number=f"BOTH-{n}")).json()["id"])
        for n in range(2)
    )
    run = partner.post("/v1/sync-runs", json={"integration_id": str(integration)}).json()
    assert run["totals"]["documents_total"] == 2

    async with sessionmaker.begin() as applying:  # the first answer, mid-transaction
        await apply(applying, booked(first, integration, run["id"], "26700121"))
        await applying.flush()
        other = asyncio.create_task(
            deliver(sessionmaker, booked(second, integration, run["id"], "26700122"))
        )
        await until_it_waits_on_a_lock(sessionmaker, other, "%sync_runs%")
    await asyncio.wait_for(other, 20)

    shown = partner.get(f"/v1/sync-runs/{run['id']}").json()
    assert (shown["status"], shown["totals"]["documents_synced"]) == ("finished", 2)


async def test_a_run_with_nothing_to_send_tells_of_no_document(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Nothing to catch up: the run finishes as it starts, and its notification counts
    no document, not one."""
    await add_integration(sessionmaker, client_id)
    run = partner.post("/v1/sync-runs", json={"client_id": client_id})
    assert run.status_code == 202, run.text
    assert run.json()["status"] == "finished"
    [notification] = await run_notifications(sessionmaker, run.json()["id"])
    assert notification.body == "0 of 0 documents synced, 0 failed; 0 new customers created."


async def test_another_partners_or_an_unknown_run_is_not_found(
    api_url: str,
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Both are a 404 that names what is missing, so another partner's ids are never
    confirmed."""
    await add_integration(sessionmaker, client_id)
    run_id = partner.post("/v1/sync-runs", json={"client_id": client_id}).json()["id"]
    assert partner.get(f"/v1/sync-runs/{run_id}").status_code == 200
    with new_partner(api_url, "Other Accountants") as stranger:
        for caller, asked in ((stranger, run_id), (partner, str(uuid.uuid4()))):
            missing = caller.get(f"/v1/sync-runs/{asked}")
            assert missing.status_code == 404 and "No such sync run." in missing.text


async def test_a_booking_number_given_twice_is_flagged_on_both_and_told(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Exact hands out "last + 1": after an entry was deleted there, a second document can
    get the first one's number. Each names the other, and the partner is told once."""
    integration = await active_integration(sessionmaker, client_id)
    first, second = (
        partner.post("/v1/invoices", json=invoice(client_id, number=f"TWICE-{n}")).json()["id"]
        for n in range(2)
    )
    await deliver(sessionmaker, booked(first, integration, None, "26700301"))
    await deliver(sessionmaker, booked(second, integration, None, "26700301"))

    def duplicate_of(document: str) -> str | None:
        [sync] = partner.get(f"/v1/invoices/{document}").json()["sync"]
        return sync["duplicate_of"]  # type: ignore[no-any-return]

    assert (duplicate_of(first), duplicate_of(second)) == (second, first)
    async with sessionmaker() as session:
        told = await session.scalars(
            select(Notification.title).where(
                Notification.client_id == uuid.UUID(client_id),
                Notification.kind == "duplicate_booking_number",
            )
        )
        assert list(told) == ["Booking number 26700301 was given to 2 documents"]


async def test_an_answer_for_a_document_not_known_here_is_dropped(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """An answer for a document without a sync state in the integration (deleted since,
    or never sent there) changes nothing and does not stop the consumer."""
    integration = await active_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="UNKNOWN-1")).json()["id"]
    for stranger, to in ((str(uuid.uuid4()), integration), (doc, uuid.uuid4())):
        failed = SyncFailed(
            document_id=uuid.UUID(stranger),
            integration_id=to,
            code="unavailable",
            message="Exact was not reachable.",
            retryable=True,
        )
        await deliver(sessionmaker, failed)
    assert partner.get(f"/v1/invoices/{doc}").json()["sync"][0]["status"] == "pending"


async def test_one_booking_number_in_two_systems_is_no_duplicate(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Each accounting system numbers its own entries: Exact and Yuki giving two documents
    the same number flags neither."""
    exact = await add_integration(sessionmaker, client_id, system="exact")
    yuki = await add_integration(sessionmaker, client_id, system="yuki")
    first, second = (
        partner.post("/v1/invoices", json=invoice(client_id, number=f"APART-{n}")).json()["id"]
        for n in range(2)
    )
    await deliver(sessionmaker, booked(first, exact, None, "26700401"))
    await deliver(sessionmaker, booked(second, yuki, None, "26700401"))

    for document in (first, second):
        states = partner.get(f"/v1/invoices/{document}").json()["sync"]
        assert [s["duplicate_of"] for s in states] == [None, None]
