"""The Lexware connector against the sandbox over real HTTP, driven through the runtime."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from connector_lexware import readback, subscriptions
from connector_lexware.connector import LexwareConnector
from invoicesync_shared.connectors.errors import PermanentError
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.models import LedgerEntry
from invoicesync_shared.events.documents import Address
from invoicesync_shared.events.integrations import IntegrationConnectionLost
from invoicesync_shared.events.results import (
    BookingAssigned,
    DocumentSent,
    PaymentStatusChanged,
    SyncFailed,
)
from invoicesync_shared.integration_settings import LexwareSettings
from invoicesync_shared.states import LedgerState
from tests.integration.connectors.lexware_support import (
    SETTLE,
    World,
    booked,
    company,
    connect,
    control,
    customer,
    document,
    verify,
)

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def world(
    shared_sandbox_url: str, sessionmaker: Sessions, secret_box: SecretBox
) -> AsyncIterator[World]:
    world = await connect(shared_sandbox_url, sessionmaker, secret_box)
    await verify(world, sessionmaker)
    yield world
    await world.http.aclose()


def _failure(world: World) -> dict[str, object]:
    failures = world.results(SyncFailed.TYPE)
    assert len(failures) == 1, world.producer.published
    return failures[0]


class TestVerify:
    async def test_returns_the_organisation(self, world: World) -> None:
        remote = await world.runtime.verify(world.integration.id)
        assert remote == {
            "organization_id": world.organization_id,
            "company_name": "Org",
            "tax_type": "net",
        }

    async def test_subscribes_to_voucher_events_once(
        self, world: World, sessionmaker: Sessions
    ) -> None:
        """So a finalised draft's number arrives by callback; verify runs again at every
        relink, and must not subscribe twice."""
        hook = "http://127.0.0.1:9/v1/callbacks/lexware"
        connector = LexwareConnector(world.client, sessionmaker, callback_url=hook)
        for _ in range(2):
            settings = LexwareSettings.stored(world.integration.settings)
            remote = await connector.verify(world.integration, settings)
            assert remote["event_subscriptions"] == sorted(subscriptions.EVENT_TYPES)
        subscribed = [(s["eventType"], s["callbackUrl"]) for s in world.state()["subscriptions"]]
        assert sorted(subscribed) == sorted((t, hook) for t in subscriptions.EVENT_TYPES)

    async def test_refuses_a_small_business(
        self, shared_sandbox_url: str, sessionmaker: Sessions, secret_box: SecretBox
    ) -> None:
        world = await connect(shared_sandbox_url, sessionmaker, secret_box, small_business=True)
        with pytest.raises(PermanentError) as refused:
            await world.runtime.verify(world.integration.id)
        await world.http.aclose()
        assert refused.value.code == "small_business"
        assert "Kleinunternehmer" in refused.value.message
        assert "small business" in refused.value.message


class TestSend:
    async def test_a_document_becomes_a_draft(self, world: World) -> None:
        await world.send(document(world.integration.client_id, "INV-1"))

        [sent] = world.results(DocumentSent.TYPE)
        [draft] = world.drafts()
        assert sent["remote_id"] == draft["id"]
        assert sent["customer_created"] is True
        assert draft["voucherNumber"] is None
        [contact] = world.state()["contacts"]
        assert contact["company"]["name"] == "Kunde AG"

    async def test_incomplete_data_lists_every_field_and_calls_nothing(self, world: World) -> None:
        calls = world.sent.calls
        incomplete = document(
            world.integration.client_id,
            "INV-2",
            company=company().model_copy(update={"address": Address(street="Hauptstraße 1")}),
            customer=customer(
                vat_number=None,
                country="NL",
                address=Address(street="Dam", city="Amsterdam", country="NL"),
            ),
        )
        await world.send(incomplete)

        failure = _failure(world)
        assert failure["code"] == "incomplete_data"
        for name in (
            "company.address.postal_code",
            "company.address.city",
            "customer.address.postal_code",
            "customer.vat_number",
        ):
            assert name in str(failure["message"])
        assert world.sent.calls == calls
        state = world.state()
        assert state["contacts"] == [] and state["vouchers"] == []

    async def test_small_business_switch_is_noticed_at_send(self, world: World) -> None:
        await world.send(document(world.integration.client_id, "INV-3"))
        control(
            world.sandbox_url,
            "PUT",
            f"/organizations/{world.organization_id}/small-business",
            json={"enabled": True},
        )
        # The cached profile still says "net": Lexware's refusal makes the connector look again.
        await world.send(document(world.integration.client_id, "INV-4"))

        failure = _failure(world)
        assert failure["code"] == "small_business" and failure["retryable"] is False
        assert len(world.drafts()) == 1

    async def test_known_contact_is_matched_not_duplicated(self, world: World) -> None:
        await world.send(document(world.integration.client_id, "INV-5"))
        renamed = customer(external_id="cust-elsewhere")  # same company, another id of ours
        await world.send(document(world.integration.client_id, "INV-6", customer=renamed))

        assert len(world.state()["contacts"]) == 1
        assert [s["customer_created"] for s in world.results(DocumentSent.TYPE)] == [True, False]

    async def test_credit_note_names_the_invoice(self, world: World) -> None:
        invoice = document(world.integration.client_id, "INV-7")
        await world.send(invoice)
        credit = document(
            world.integration.client_id, "CN-1", kind="credit_note", credit_note_for=invoice.id
        )
        await world.send(credit)

        sent = world.results(DocumentSent.TYPE)
        vouchers = {v["id"]: v for v in world.state()["vouchers"]}
        assert vouchers[sent[1]["remote_id"]]["voucherType"] == "creditnote"
        assert vouchers[sent[1]["remote_id"]]["precedingSalesVoucherId"] == sent[0]["remote_id"]


class TestThroughput:
    async def test_twenty_documents_without_a_429(self, world: World) -> None:
        calls, started = world.sent.calls, time.monotonic()
        for n in range(20):
            await world.send(document(world.integration.client_id, f"BULK-{n}"))
        elapsed = time.monotonic() - started

        assert len(world.results(DocumentSent.TYPE)) == 20
        assert len(world.drafts()) == 20
        assert world.sent.rate_limited == 0
        used = world.sent.calls - calls
        # profile (cached from verify) 0, contact search 1-2 + create 1, then 1 per document.
        assert used <= 23
        print(f"\n20 documents: {used} calls ({used / 20:.2f}/doc), {elapsed:.1f} s, 0 x 429")


def poll_calls() -> float:
    """Pages read for one organisation at once (a callback, a refresh): a round reads
    every organisation in the database, other tests' too."""
    value = REGISTRY.get_sample_value("invoicesync_lexware_poll_calls_total", {"trigger": "now"})
    return value or 0.0


class TestBookingNumbers:
    async def test_finalised_draft_reports_its_number_then_its_payment(
        self, world: World, sessionmaker: Sessions
    ) -> None:
        doc = document(world.integration.client_id, "INV-8")
        await world.send(doc)
        [draft] = world.drafts()
        assert await world.poller.poll_once() == 0
        calls = poll_calls()
        assert await world.poller.refresh_now(world.integration.id) == 0
        assert poll_calls() == calls + 1  # the poll's cost is counted: one voucherlist page

        finalised = control(world.sandbox_url, "POST", f"/vouchers/{draft['id']}/finalize")
        assert await world.poller.poll_once() == 2
        [booked] = world.results(BookingAssigned.TYPE)
        assert booked["booking_number"] == finalised["voucherNumber"]
        assert booked["remote_id"] == draft["id"]
        assert [p["payment_status"] for p in world.results(PaymentStatusChanged.TYPE)] == ["open"]
        async with sessionmaker() as session:
            entry = await session.get(LedgerEntry, (world.integration.id, doc.id, 0))
        assert entry is not None and entry.state == LedgerState.BOOKED
        assert entry.booking_number == finalised["voucherNumber"]

        assert await world.poller.poll_once() == 0  # nothing changed, nothing said
        control(world.sandbox_url, "POST", f"/vouchers/{draft['id']}/pay")
        assert await world.poller.poll_once() == 1
        statuses = [p["payment_status"] for p in world.results(PaymentStatusChanged.TYPE)]
        assert statuses == ["open", "paid"]
        assert await world.poller.poll_once() == 0  # settled: no longer watched
        calls = poll_calls()
        assert await world.poller.refresh_now(world.integration.id) == 0
        assert poll_calls() == calls  # and no longer read: nothing open costs no call

    async def test_a_voided_voucher_is_no_payment_and_no_longer_read(self, world: World) -> None:
        await world.send(document(world.integration.client_id, "INV-10"))
        [draft] = world.drafts()
        control(world.sandbox_url, "POST", f"/vouchers/{draft['id']}/finalize")
        assert await world.poller.refresh_now(world.integration.id) == 2  # number, open
        control(world.sandbox_url, "POST", f"/vouchers/{draft['id']}/void")
        calls = poll_calls()
        assert await world.poller.refresh_now(world.integration.id) == 0
        assert await world.poller.refresh_now(world.integration.id) == 0
        assert poll_calls() == calls + 1  # read once, then settled
        assert [p["payment_status"] for p in world.results(PaymentStatusChanged.TYPE)] == ["open"]

    async def test_a_callback_waits_for_a_replica_reading_the_organisation(
        self, world: World, engine: AsyncEngine
    ) -> None:
        """The callback's read waits for that replica's and reads again, so a change the
        replica's read already passed is not missed."""
        await world.send(document(world.integration.client_id, "INV-9"))
        [draft] = world.drafts()
        key = (readback.LOCK_SPACE, func.hashtext(str(world.integration.id)))
        async with engine.connect() as replica:  # its round is on the organisation
            assert await replica.scalar(select(func.pg_try_advisory_lock(*key)))
            await replica.commit()
            refresh = asyncio.create_task(world.poller.refresh_now(world.integration.id))
            control(world.sandbox_url, "POST", f"/vouchers/{draft['id']}/finalize")
            await asyncio.sleep(0.5)
            assert not refresh.done()
            await replica.scalar(select(func.pg_advisory_unlock(*key)))
            await replica.commit()
        assert await refresh == 2  # its number and its payment status


class TestFaults:
    @pytest.mark.parametrize("kind", ["drop_response_after_commit", "http_500", "timeout"])
    async def test_one_draft_per_document_whatever_happens(self, world: World, kind: str) -> None:
        await world.send(document(world.integration.client_id, "WARM-UP"))  # contact exists
        faults = f"{world.sandbox_url}/_sandbox/faults"
        fired = httpx.get(faults).json()["fired"].get(kind, 0)
        fault = {"system": "lexware", "path_pattern": "/v1/invoices", "kind": kind, "count": 1}
        armed = httpx.post(faults, json={**fault, "method": "POST"})
        assert armed.status_code < 300, armed.text

        await world.send(document(world.integration.client_id, f"FAULT-{kind}"))

        assert httpx.get(faults).json()["fired"][kind] == fired + 1

        assert len(world.drafts()) == 2
        sent = world.results(DocumentSent.TYPE) + world.results(BookingAssigned.TYPE)
        assert len(sent) == 2 and not world.results(SyncFailed.TYPE)

    async def test_a_draft_visible_only_seconds_after_its_lost_answer_is_adopted(
        self, world: World, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        """The answer to the create is lost (the client gives up after 2 s) and Lexware
        shows the voucher only 6 s after it was made: the runtime looks it up after 3 s,
        and believes "not found" only after a second lookup 3 s later, so the draft is
        adopted, never made twice."""
        settling = ConnectorRuntime(
            world.connector,
            sessionmaker=sessionmaker,
            producer=world.producer,
            retry=RetryPolicy(attempts=4, initial=0.05, maximum=0.5),
            settle=timedelta(seconds=3.0),
        )
        await settling.handle(
            booked(world.integration.id, document(world.integration.client_id, "WARM-UP"))
        )
        fault = {
            "system": "lexware",
            "path_pattern": "/v1/invoices",
            "kind": "drop_response_visible_late",
            "delay_seconds": 6.0,
            "count": 1,
            "method": "POST",
        }
        armed = httpx.post(f"{world.sandbox_url}/_sandbox/faults", json=fault)
        assert armed.status_code < 300, armed.text
        late = document(world.integration.client_id, "LATE-1")

        await settling.handle(booked(world.integration.id, late))

        assert len(world.drafts()) == 2
        [result] = [r for r in world.results(DocumentSent.TYPE) if r["document_id"] == str(late.id)]
        assert result["remote_id"] in {d["id"] for d in world.drafts()}
        assert not world.results(SyncFailed.TYPE)

    async def test_an_unresolved_lost_draft_is_found_later_among_many_alike(
        self, world: World, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        """The lost draft is looked up only when the document is asked for again, after
        more alike drafts (same day, customer and total) were made: still adopted."""
        faults = f"{world.sandbox_url}/_sandbox/faults"
        give_up_at_once = ConnectorRuntime(
            world.connector,
            sessionmaker=sessionmaker,
            producer=world.producer,
            retry=RetryPolicy(attempts=1),
            settle=timedelta(seconds=SETTLE),
        )
        lost = document(world.integration.client_id, "LOST-1")
        fault: dict[str, object] = {"system": "lexware", "path_pattern": "/v1/invoices", "count": 1}
        armed = httpx.post(
            faults, json={**fault, "kind": "drop_response_after_commit", "method": "POST"}
        )
        assert armed.status_code < 300
        await give_up_at_once.handle(booked(world.integration.id, lost))
        assert [r["code"] for r in world.results(SyncFailed.TYPE)] == ["outcome_unknown"]
        for n in range(7):
            await world.send(document(world.integration.client_id, f"ALIKE-{n}"))
        await world.send(lost)  # asked for again (sweeper, dead-letter replay)
        assert len(world.drafts()) == 8  # the lost one was adopted, not made twice
        adopted = [r for r in world.results(DocumentSent.TYPE) if r["document_id"] == str(lost.id)]
        assert len(adopted) == 1


class TestAuthorisation:
    async def test_expired_token_is_refreshed(self, world: World) -> None:
        control(
            world.sandbox_url,
            "POST",
            "/tokens/expire",
            json={"organization_id": world.organization_id},
        )
        await world.send(document(world.integration.client_id, "INV-9"))
        assert len(world.results(DocumentSent.TYPE)) == 1

    async def test_revoked_grant_needs_reauthorisation(self, world: World) -> None:
        control(
            world.sandbox_url,
            "POST",
            "/tokens/revoke",
            json={"organization_id": world.organization_id},
        )
        await world.send(document(world.integration.client_id, "INV-10"))
        # Reported to the API (which alone changes the status); the document waits.
        assert not world.results(SyncFailed.TYPE)
        [lost] = world.results(IntegrationConnectionLost.TYPE)
        assert lost["status"] == "needs_reauthorization"
