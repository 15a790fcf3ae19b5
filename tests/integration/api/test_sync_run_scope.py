"""What a sync run takes in, what it refuses to start, and how its end is told: the scope
of a run (a client, one integration, chosen documents), its tally across several systems
and the notification that closes it."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Document, DocumentSync
from invoicesync_api.sync import repository
from invoicesync_api.webhooks.models import WebhookDelivery
from invoicesync_shared.db.models import Integration, OutboxMessage
from invoicesync_shared.events.results import SyncDeferred, SyncFailed
from tests.integration.api.conftest import add_integration, invoice, quiet_webhook_endpoint
from tests.integration.api.test_purchase_documents import purchase
from tests.integration.api.test_sync_runs import (
    booked,
    deliver,
    requested_targets,
    run_notifications,
)
from tests.support.clocks import held_at
from tests.support.row_order import OTHER_PLANS

TIES = 12  # documents of one issue date: one order of 12! by chance

PROBLEM = "application/problem+json"


@pytest.fixture
async def run_hooks(
    client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[uuid.UUID]:
    async with quiet_webhook_endpoint(
        sessionmaker, client_id, ["sync_run.finished"]
    ) as endpoint_id:
        yield endpoint_id


async def finished_hooks(
    sessionmaker: async_sessionmaker[AsyncSession], endpoint_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The data of every ``sync_run.finished`` queued for the endpoint."""
    async with sessionmaker() as session:
        payloads = await session.scalars(
            select(WebhookDelivery.payload).where(
                WebhookDelivery.endpoint_id == endpoint_id,
                WebhookDelivery.event_type == "sync_run.finished",
            )
        )
        return [p["data"] for p in payloads]


def refused(answer: httpx.Response, status: int) -> str:
    """The problem's detail, once its status and type are checked."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    detail: str = answer.json()["detail"]
    return detail


async def failed_first(
    sessionmaker: async_sessionmaker[AsyncSession], integrations: list[uuid.UUID]
) -> None:
    """The first sends to these integrations failed: a run for the client sends again."""
    async with sessionmaker.begin() as session:
        await session.execute(
            update(DocumentSync)
            .where(DocumentSync.integration_id.in_(integrations))
            .values(status="failed", error_code="unavailable", error_retryable=True)
        )


async def requests_of(
    sessionmaker: async_sessionmaker[AsyncSession], document_id: str
) -> list[dict[str, Any]]:
    """The integrations and the run each outbox request of the document names, oldest
    first."""
    async with sessionmaker() as session:
        envelopes = await session.scalars(
            select(OutboxMessage.envelope)
            .where(OutboxMessage.envelope["subject"].astext == document_id)
            .order_by(OutboxMessage.id)
        )
        return [
            {
                "targets": {t["integration_id"] for t in e["data"]["targets"]},
                "sync_run_id": e["data"].get("sync_run_id"),
            }
            for e in envelopes
        ]


async def a_client_run_asks_only(
    partner: httpx.Client,
    sessionmaker: async_sessionmaker[AsyncSession],
    client_id: str,
    integration: uuid.UUID,
    taken: str,
    left_out: str | None = None,
) -> None:
    """A run for the client starts with ``integration`` alone and the one document
    ``taken``, which it asks that integration alone for; for ``left_out`` it asks nothing."""
    run = partner.post("/v1/sync-runs", json={"client_id": client_id})
    assert run.status_code == 202, run.text
    assert run.json()["integration_ids"] == [str(integration)]
    assert run.json()["totals"]["documents_total"] == 1
    *_, asked_by_the_run = await requests_of(sessionmaker, taken)
    assert asked_by_the_run == {"targets": {str(integration)}, "sync_run_id": run.json()["id"]}
    if left_out is not None:
        assert await requests_of(sessionmaker, left_out) == []


async def test_a_run_is_refused_for_what_it_cannot_send(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """No active integration, a document that is no one's, another client's or a draft:
    each refused with the reason, nothing started."""
    nothing_to_sync = partner.post("/v1/sync-runs", json={"client_id": client_id})
    assert refused(nothing_to_sync, 422) == "There is no active integration to sync with."

    await add_integration(sessionmaker, client_id)
    sent = partner.post("/v1/invoices", json=invoice(client_id, number="SCOPE-1")).json()["id"]
    drafts = [
        partner.post(
            "/v1/invoices", json=invoice(client_id, number=f"DRAFT-{n}", status="draft")
        ).json()["id"]
        for n in range(2)
    ]
    other_client = partner.post("/v1/clients", json={"name": "Other BV", "country": "NL"})
    assert other_client.status_code == 201, other_client.text
    elsewhere = partner.post(
        "/v1/invoices", json=invoice(other_client.json()["id"], number="SCOPE-2")
    ).json()["id"]
    unknown = [str(uuid.uuid4()) for _ in range(2)]

    no_one = partner.post("/v1/sync-runs", json={"document_ids": [unknown[0], sent]})
    assert refused(no_one, 404) == "No such client."
    missing = partner.post("/v1/sync-runs", json={"document_ids": [sent, *unknown, elsewhere]})
    assert refused(missing, 404) == (
        f"No such documents for this client: {unknown[0]}, {unknown[1]}, {elsewhere}."
    )
    named_client = partner.post(
        "/v1/sync-runs", json={"client_id": client_id, "document_ids": [elsewhere]}
    )
    assert refused(named_client, 404) == f"No such documents for this client: {elsewhere}."
    not_booked = partner.post("/v1/sync-runs", json={"document_ids": [sent, *drafts]})
    detail = refused(not_booked, 422)
    prefix = "Drafts are never synced; book them first: "
    assert detail.startswith(prefix) and detail.endswith(".")
    assert sorted(detail[len(prefix) : -1].split(", ")) == ["DRAFT-0", "DRAFT-1"]
    assert partner.get("/v1/sync-runs", params={"client_id": client_id}).json() == []


async def test_a_run_for_one_integration_leaves_the_clients_others_alone(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Exact and Yuki both failed the document; a run for Yuki asks Yuki alone, and a
    second run for it is refused while the first goes, naming the first."""
    exact = await add_integration(sessionmaker, client_id, system="exact")
    yuki = await add_integration(sessionmaker, client_id, system="yuki")
    partner.post("/v1/invoices", json=invoice(client_id, number="ONE-1"))
    await failed_first(sessionmaker, [exact, yuki])

    run = partner.post("/v1/sync-runs", json={"integration_id": str(yuki)})
    assert run.status_code == 202, run.text
    assert run.json()["integration_ids"] == [str(yuki)]
    assert run.json()["totals"]["documents_total"] == 1
    again = partner.post("/v1/sync-runs", json={"integration_id": str(yuki)})
    assert refused(again, 409) == "A sync run is already going for this integration."
    assert again.json()["sync_run_id"] == run.json()["id"]
    # Exact is not in the run: a run for it starts.
    other = partner.post("/v1/sync-runs", json={"integration_id": str(exact)})
    assert other.status_code == 202, other.text
    assert other.json()["integration_ids"] == [str(exact)]


async def test_a_run_takes_in_only_the_clients_active_integrations(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A paused or deactivated integration is not synced with: a run naming it is refused
    as one for a client without integrations, a run for the client leaves it out."""
    exact = await add_integration(sessionmaker, client_id, system="exact")
    paused = await add_integration(sessionmaker, client_id, system="yuki", status="paused")
    ended = await add_integration(sessionmaker, client_id, system="lexware", status="deactivated")
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="ACTIVE-1")).json()["id"]
    await failed_first(sessionmaker, [exact])

    for inactive in (paused, ended):
        named = partner.post("/v1/sync-runs", json={"integration_id": str(inactive)})
        assert refused(named, 422) == "There is no active integration to sync with."
    await a_client_run_asks_only(partner, sessionmaker, client_id, exact, taken=doc)


async def test_a_run_for_the_client_never_catches_up_a_draft(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A draft has no sync state to be settled in, yet is not the integration's to catch
    up: only the booked document whose send failed is asked for again."""
    integration = await add_integration(sessionmaker, client_id)
    booked_doc = partner.post("/v1/invoices", json=invoice(client_id, number="CAUGHT-1"))
    draft = partner.post(
        "/v1/invoices", json=invoice(client_id, number="CAUGHT-DRAFT", status="draft")
    )
    assert draft.status_code == 201, draft.text
    await failed_first(sessionmaker, [integration])

    await a_client_run_asks_only(
        partner,
        sessionmaker,
        client_id,
        integration,
        taken=booked_doc.json()["id"],
        left_out=draft.json()["id"],
    )


async def test_a_run_for_the_client_leaves_out_what_came_in_before_the_integration(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A document created before the integration was connected is not its to book (the
    connection never sent it either): the run catches up only the one created since."""
    before = partner.post("/v1/invoices", json=invoice(client_id, number="SINCE-BEFORE"))
    assert before.status_code == 201, before.text
    integration = await add_integration(sessionmaker, client_id)  # active an hour ago
    async with sessionmaker.begin() as session:  # came in well before that
        await session.execute(
            update(Document)
            .where(Document.id == uuid.UUID(before.json()["id"]))
            .values(created_at=Document.created_at - timedelta(hours=2))
        )
    since = partner.post("/v1/invoices", json=invoice(client_id, number="SINCE-AFTER"))
    await failed_first(sessionmaker, [integration])

    await a_client_run_asks_only(
        partner,
        sessionmaker,
        client_id,
        integration,
        taken=since.json()["id"],
        left_out=before.json()["id"],
    )


async def test_documents_dated_before_the_start_date_are_counted_failed_at_once(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Nothing is sent for them, so no answer comes: the run counts them failed when it
    starts, with the reason, and finishes with the two already booked."""
    integration = await add_integration(sessionmaker, client_id)
    early = [
        partner.post(
            "/v1/invoices",
            json=invoice(client_id, number=f"EARLY-{n}", issue_date="2025-12-31"),
        ).json()["id"]
        for n in range(2)
    ]
    done = [
        partner.post("/v1/invoices", json=invoice(client_id, number=f"LATER-{n}")).json()["id"]
        for n in range(2)
    ]
    for n, booked_doc in enumerate(done):
        await deliver(sessionmaker, booked(booked_doc, integration, None, f"2670020{n}"))

    with held_at(datetime.now(UTC).replace(microsecond=0)) as clock:
        run = partner.post("/v1/sync-runs", json={"document_ids": [*early, *done]})
    assert run.status_code == 202, run.text
    shown = run.json()
    assert (shown["status"], shown["trigger"]) == ("finished", "manual")
    # Started and finished by the shared clock, in the same request.
    assert datetime.fromisoformat(shown["started_at"]) == clock.at
    assert datetime.fromisoformat(shown["finished_at"]) == clock.at
    assert shown["totals"] == {
        "documents_total": 4,
        "documents_synced": 2,
        "documents_failed": 2,
        "documents_deferred": 0,
        "customers_synced": 0,
        "suppliers_synced": 0,
        "documents_pending": 0,
    }
    assert [(e["document_id"], e["number"]) for e in shown["errors"]] == [
        (early[0], "EARLY-0"),
        (early[1], "EARLY-1"),
    ]
    assert {
        (e["integration_id"], e["system"], e["code"], e["message"]) for e in shown["errors"]
    } == {
        (
            str(integration),
            "exact",
            "before_start_date",
            "Dated 2025-12-31, before this integration's start date (2026-01-01): not sent. "
            "To book it there, move the integration's start_date (PATCH "
            f"/v1/integrations/{integration}) to or before its date, then retry it.",
        )
    }
    (notification,) = await run_notifications(sessionmaker, shown["id"])
    assert notification.title == "Sync finished with 2 errors"
    assert notification.body == "2 of 4 documents synced, 2 failed; 0 new customers created."

    # A late answer naming the run for the document it found booked changes nothing.
    await deliver(sessionmaker, booked(done[0], integration, shown["id"], "26700200"))
    assert partner.get(f"/v1/sync-runs/{shown['id']}").json()["totals"] == shown["totals"]


async def test_a_run_over_two_systems_counts_sends_and_speaks_of_documents(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    run_hooks: uuid.UUID,
) -> None:
    """One document to Exact and Lexware: booked in one, moved on by the other (said
    twice, counted once). The run counts two sends; its notification speaks of one
    document, of sends, and of the wait."""
    exact = await add_integration(sessionmaker, client_id, system="exact")
    lexware = await add_integration(sessionmaker, client_id, system="lexware")
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="TWO-1")).json()["id"]
    await failed_first(sessionmaker, [exact, lexware])
    run = partner.post("/v1/sync-runs", json={"client_id": client_id})
    assert run.status_code == 202, run.text
    run_id = run.json()["id"]
    assert sorted(run.json()["integration_ids"]) == sorted([str(exact), str(lexware)])

    assert (await requests_of(sessionmaker, doc))[-1] == {
        "targets": {str(exact), str(lexware)},
        "sync_run_id": run_id,
    }

    await deliver(sessionmaker, booked(doc, exact, run_id, "26700301"))
    assert partner.get(f"/v1/sync-runs/{run_id}").json()["status"] == "running"
    wait = SyncDeferred(
        document_id=uuid.UUID(doc),
        integration_id=lexware,
        waiting_until=datetime(2026, 12, 5, 9, 0, 30, tzinfo=UTC),
        reason="rate_limited",
        sync_run_id=uuid.UUID(run_id),
    )
    await deliver(sessionmaker, wait)
    await deliver(sessionmaker, wait.model_copy())  # said again: counted once

    done = partner.get(f"/v1/sync-runs/{run_id}").json()
    assert done["status"] == "finished"
    assert done["totals"] == {
        "documents_total": 2,
        "documents_synced": 1,
        "documents_failed": 0,
        "documents_deferred": 1,
        "customers_synced": 1,
        "suppliers_synced": 0,
        "documents_pending": 0,
    }
    assert done["errors"] == []
    assert done["deferred"] == [
        {
            "document_id": doc,
            "number": "TWO-1",
            "integration_id": str(lexware),
            "system": "lexware",
            "waiting_until": "2026-12-05T09:00:30Z",
            "reason": "rate_limited",
        }
    ]
    assert await finished_hooks(sessionmaker, run_hooks) == [
        {
            "sync_run_id": run_id,
            "client_id": client_id,
            "trigger": "manual",
            "totals": done["totals"],
            "errors": [],
            "deferred": done["deferred"],
        }
    ]
    (notification,) = await run_notifications(sessionmaker, run_id)
    assert (notification.kind, str(notification.client_id)) == ("sync_run_finished", client_id)
    assert notification.title == "Sync finished"
    assert notification.body == (
        "1 document to 2 accounting systems: 1 of 2 sends synced, 0 failed; 1 send moved "
        "until 2026-12-05 09:01 UTC (Lexware Office asked us to wait); 1 new customer created."
    )
    assert notification.counts == done["totals"]
    assert notification.params == {
        "documents": 1,
        "systems": 2,
        "synced": 1,
        "total": 2,
        "failed": 0,
        "customers": 1,
        "suppliers": 0,
        "moved": [[1, "2026-12-05 09:01 UTC", "rate_limited", "lexware"]],
    }


async def test_a_refusal_is_listed_with_its_document_and_told_in_the_readers_language(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """One system, two documents: one refused, one moved on until Exact's day is over.
    The refusal is listed with its document, in the reader's language; the notification
    speaks of documents."""
    integration = await add_integration(sessionmaker, client_id)
    refused_doc, moved_doc = (
        partner.post("/v1/invoices", json=invoice(client_id, number=f"VAT-{n}")).json()["id"]
        for n in range(2)
    )
    await failed_first(sessionmaker, [integration])
    run_id = partner.post("/v1/sync-runs", json={"client_id": client_id}).json()["id"]
    refusal = SyncFailed(
        document_id=uuid.UUID(refused_doc),
        integration_id=integration,
        code="unknown_vat_code",
        message="No VAT code for 9 %.",
        retryable=False,
        sync_run_id=uuid.UUID(run_id),
    )
    await deliver(sessionmaker, refusal)
    day_spent = SyncDeferred(
        document_id=uuid.UUID(moved_doc),
        integration_id=integration,
        waiting_until=datetime(2026, 12, 6, 0, 0, tzinfo=UTC),
        reason="daily_limit",
        sync_run_id=uuid.UUID(run_id),
    )
    await deliver(sessionmaker, day_spent)

    done = partner.get(f"/v1/sync-runs/{run_id}").json()
    assert done["status"] == "finished"
    assert (done["totals"]["documents_failed"], done["totals"]["documents_deferred"]) == (1, 1)
    assert done["errors"] == [
        {
            "document_id": refused_doc,
            "number": "VAT-0",
            "integration_id": str(integration),
            "system": "exact",
            "code": "unknown_vat_code",
            "message": "No VAT code for 9 %.",
        }
    ]
    dutch = partner.get(f"/v1/sync-runs/{run_id}", headers={"Accept-Language": "nl"}).json()
    assert [e["message"] for e in dutch["errors"]] == [
        "Exact Online heeft geen btw-code voor een tarief op dit document. Maak de btw-code "
        "aan in Exact Online (of koppel het tarief in de instellingen van de koppeling) en "
        "probeer het daarna opnieuw."
    ]
    (notification,) = await run_notifications(sessionmaker, run_id)
    assert notification.title == "Sync finished with 1 error"
    assert notification.body == (
        "0 of 2 documents synced, 1 failed; 1 document moved until 2026-12-06 00:00 UTC "
        "(Exact Online's daily API limit was reached); 0 new customers created."
    )
    assert notification.errors == done["errors"]


async def test_a_send_counts_once_though_its_retry_books_it_after_a_failure(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Exact was unreachable for the run's request (counted failed, the run finished);
    the connector's own retry then books it under the same run: the document says so,
    the finished run stays as it was."""
    integration = await add_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="ONCE-1")).json()["id"]
    await failed_first(sessionmaker, [integration])
    run_id = partner.post("/v1/sync-runs", json={"client_id": client_id}).json()["id"]
    unreachable = SyncFailed(
        document_id=uuid.UUID(doc),
        integration_id=integration,
        code="unavailable",
        message="Exact was not reachable.",
        retryable=True,
        sync_run_id=uuid.UUID(run_id),
    )
    await deliver(sessionmaker, unreachable)
    finished = partner.get(f"/v1/sync-runs/{run_id}").json()
    assert (finished["status"], finished["totals"]["documents_failed"]) == ("finished", 1)

    await deliver(sessionmaker, booked(doc, integration, run_id, "26700401"))
    assert partner.get(f"/v1/invoices/{doc}").json()["sync"][0]["status"] == "booked"
    assert partner.get(f"/v1/sync-runs/{run_id}").json() == finished
    assert len(await run_notifications(sessionmaker, run_id)) == 1


async def test_the_runs_own_late_answer_counts_as_what_the_document_settled_to(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """An older request's answer booked the document first; the run's own answer comes
    after, a refusal (the connector checked the integration before its ledger). The run
    counts the document synced, as it is, with no customer created by the refusal; a
    further answer naming the run changes nothing."""
    integration = await add_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="LATE-1")).json()["id"]
    await failed_first(sessionmaker, [integration])
    run_id = partner.post("/v1/sync-runs", json={"client_id": client_id}).json()["id"]
    await deliver(sessionmaker, booked(doc, integration, None, "26700501"))  # the older request
    late = SyncFailed(
        document_id=uuid.UUID(doc),
        integration_id=integration,
        code="integration_inactive",
        message="The integration is not active.",
        retryable=False,
        sync_run_id=uuid.UUID(run_id),
    )
    await deliver(sessionmaker, late)

    run = partner.get(f"/v1/sync-runs/{run_id}").json()
    assert run["status"] == "finished"
    assert run["totals"] == {
        "documents_total": 1,
        "documents_synced": 1,
        "documents_failed": 0,
        "documents_deferred": 0,
        "customers_synced": 0,
        "suppliers_synced": 0,
        "documents_pending": 0,
    }
    await deliver(sessionmaker, booked(doc, integration, run_id, "26700501"))
    assert partner.get(f"/v1/sync-runs/{run_id}").json() == run


@pytest.mark.parametrize(
    ("bills", "created"), [(1, "1 new supplier created."), (2, "2 new suppliers created.")]
)
async def test_suppliers_made_for_purchase_documents_are_counted_as_suppliers(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    bills: int,
    created: str,
) -> None:
    """A run sends a sales invoice and purchase invoices, and each push created its
    relation in Exact: one new customer and a new supplier per purchase invoice, not only
    new customers, in the totals, the notification and its German text."""
    integration = await add_integration(sessionmaker, client_id)
    sale = partner.post("/v1/invoices", json=invoice(client_id, number="SALE-1")).json()["id"]
    posted = [
        partner.post("/v1/purchase-invoices", json=purchase(client_id, f"B-{n}"))
        for n in range(bills)
    ]
    assert [p.status_code for p in posted] == [201] * bills, [p.text for p in posted]
    await failed_first(sessionmaker, [integration])
    run_id = partner.post("/v1/sync-runs", json={"client_id": client_id}).json()["id"]
    await deliver(sessionmaker, booked(sale, integration, run_id, "26700401"))
    for n, bill in enumerate(posted, start=2):
        await deliver(sessionmaker, booked(bill.json()["id"], integration, run_id, f"2670040{n}"))

    done = partner.get(f"/v1/sync-runs/{run_id}").json()
    assert done["status"] == "finished"
    totals = done["totals"]
    assert (totals["documents_synced"], totals["customers_synced"]) == (1 + bills, 1)
    assert totals["suppliers_synced"] == bills
    (notification,) = await run_notifications(sessionmaker, run_id)
    assert notification.body == (
        f"{1 + bills} of {1 + bills} documents synced, 0 failed; 1 new customer created. " + created
    )
    notifications = partner.get("/v1/notifications", headers={"Accept-Language": "de"})
    (german,) = [n for n in notifications.json() if n["sync_run_id"] == run_id]
    assert german["body"].endswith(f"neu angelegte Kunden: 1. Neu angelegte Lieferanten: {bills}.")


async def test_a_run_for_one_integration_catches_up_what_is_not_settled_there(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A run for Yuki sends what Yuki has not booked, also what Exact has booked, and
    leaves out a kind Yuki refused (it would only be refused again); a run for Exact
    leaves out what Exact booked."""
    exact = await add_integration(sessionmaker, client_id, system="exact")
    yuki = await add_integration(sessionmaker, client_id, system="yuki")
    booked_in_exact, failed_in_both, refused_kind = (
        str(partner.post("/v1/invoices", json=invoice(client_id, number=f"CATCH-{n}")).json()["id"])
        for n in range(3)
    )
    await deliver(sessionmaker, booked(booked_in_exact, exact, None, "26700111"))

    def failed(doc: str, integration: uuid.UUID, code: str, retryable: bool) -> SyncFailed:
        return SyncFailed(
            document_id=uuid.UUID(doc),
            integration_id=integration,
            code=code,
            message="Refused.",
            retryable=retryable,
        )

    for doc, integration in (
        (booked_in_exact, yuki),
        (failed_in_both, yuki),
        (failed_in_both, exact),
    ):
        await deliver(sessionmaker, failed(doc, integration, "unavailable", True))
    await deliver(sessionmaker, failed(refused_kind, yuki, "kind_not_supported", False))
    before = {
        d: await requested_targets(sessionmaker, d)
        for d in (booked_in_exact, failed_in_both, refused_kind)
    }

    for_yuki = partner.post("/v1/sync-runs", json={"integration_id": str(yuki)})
    assert for_yuki.status_code == 202, for_yuki.text
    assert for_yuki.json()["totals"]["documents_total"] == 2
    assert await requested_targets(sessionmaker, booked_in_exact) == [
        *before[booked_in_exact],
        {str(yuki)},
    ]
    assert await requested_targets(sessionmaker, failed_in_both) == [
        *before[failed_in_both],
        {str(yuki)},
    ]
    assert await requested_targets(sessionmaker, refused_kind) == before[refused_kind]

    for_exact = partner.post("/v1/sync-runs", json={"integration_id": str(exact)})
    assert for_exact.status_code == 202, for_exact.text
    totals = for_exact.json()["totals"]
    # failed_in_both and refused_kind (never answered by Exact); booked_in_exact is not counted
    assert (totals["documents_total"], totals["documents_synced"]) == (2, 0)


async def test_a_run_sends_from_the_start_date_on_oldest_issue_date_first(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A run over the client asks for its documents by issue date, and of one date in the
    order they came in (Exact numbers entries "last + 1", so numbers follow dates); one
    dated on the start date (2026-01-01) is sent, one dated the day before is not."""
    integration = await add_integration(sessionmaker, client_id)

    def post(number: str, issue_date: str) -> str:
        body = invoice(client_id, number=number, issue_date=issue_date)
        return str(partner.post("/v1/invoices", json=body).json()["id"])

    later = post("ORDER-LATER", "2026-11-22")
    second = post("ORDER-SECOND", "2026-11-20")
    first = post("ORDER-FIRST", "2026-11-20")
    on_start = post("ORDER-ON-START", "2026-01-01")
    post("ORDER-BEFORE-START", "2025-12-31")
    async with sessionmaker.begin() as session:  # came in after ORDER-SECOND, dated before
        await session.execute(
            update(Document)
            .where(Document.id == uuid.UUID(first))
            .values(created_at=Document.created_at - timedelta(hours=1))
        )

    run = partner.post("/v1/sync-runs", json={"integration_id": str(integration)})
    assert run.status_code == 202, run.text
    assert run.json()["totals"]["documents_total"] == 4
    async with sessionmaker() as session:
        asked = await session.scalars(
            select(OutboxMessage.envelope["subject"].astext)
            .where(OutboxMessage.envelope["data"]["sync_run_id"].astext == run.json()["id"])
            .order_by(OutboxMessage.id)
        )
        assert list(asked) == [on_start, first, second, later]


async def test_a_catch_up_takes_one_dates_documents_in_the_order_they_came_in(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Of one issue date, what came in first is sent first, whatever order the rows are
    stored in. The documents are said to have come in in a shuffled order of the one they
    were stored in, and are read as stored (a sequential scan, as at other sizes: no index
    or bitmap scan, which would walk them by arrival): only the order asked for puts them
    back (a sort without it returns one of the 12! orders, this one by chance only)."""
    integration_id = await add_integration(sessionmaker, client_id)
    stored = [
        uuid.UUID(partner.post("/v1/invoices", json=invoice(client_id, number=n)).json()["id"])
        for n in (f"TIE-{i:02}" for i in range(TIES))
    ]
    came_in = random.Random(TIES).sample(stored, TIES)
    async with sessionmaker.begin() as session:
        start = await session.scalar(
            select(func.min(Document.created_at)).where(Document.id.in_(stored))
        )
        assert start is not None
        for document_id in stored:  # rewritten in stored order, so stored in that order
            await session.execute(
                update(Document)
                .where(Document.id == document_id)
                .values(created_at=start + timedelta(milliseconds=came_in.index(document_id)))
            )
    async with sessionmaker.begin() as session:
        for setting in (*OTHER_PLANS, "SET LOCAL enable_bitmapscan = off"):
            await session.execute(text(setting))
        integration = await session.get(Integration, integration_id)
        assert integration is not None
        caught_up = await repository.documents_to_catch_up(session, integration)
        assert [row.id for row in caught_up] == came_in
