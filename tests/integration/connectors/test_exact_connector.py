"""The Exact connector against the sandbox over real HTTP, driven through the runtime:
tokens, rate limits, faults, bookkeeper errors, payment read-back and the deletion audit."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, text, update
from starlette.applications import Starlette

from invoicesync_sandbox.main import create_app as create_sandbox
from invoicesync_sandbox.settings import SandboxSettings
from invoicesync_shared.connectors.errors import PermanentError, TransientError
from invoicesync_shared.connectors.service import refresh_route
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.models import Integration, LedgerEntry
from invoicesync_shared.events.audit import RemoteEntryMissing
from invoicesync_shared.events.documents import CustomerData
from invoicesync_shared.events.integrations import IntegrationConnectionLost
from invoicesync_shared.events.results import BookingAssigned, PaymentStatusChanged, SyncFailed
from tests.integration.connectors.exact_support import (
    BEFORE_START,
    REDIRECT_URI,
    SandboxTimeBudget,
    Sessions,
    World,
    arm_fault,
    connect,
    control,
    odd_vat_line,
    replica,
)
from tests.support.clocks import held_at
from tests.support.servers import free_port, serve_in_thread


def _one_failure(world: World) -> dict[str, object]:
    failures = world.results(SyncFailed.TYPE)
    assert len(failures) == 1, world.one.producer.published
    return failures[0]


def _refs_once(world: World, numbers: list[str]) -> None:
    refs = Counter(e["your_ref"] for e in world.entries())
    assert {n: refs[n] for n in numbers} == dict.fromkeys(numbers, 1), refs


class TestTokens:
    async def test_four_replicas_on_an_expired_token_refresh_once(
        self, world: World, sessionmaker: Sessions, secret_box: SecretBox
    ) -> None:
        await world.send(world.document("WARM-1"))  # customer and master data exist
        world.others = [replica(world.sandbox_url, sessionmaker, secret_box) for _ in range(3)]
        control(world.sandbox_url, "POST", "/exact/tokens/expire", json={"token": _access(world)})
        before = {c["chain_id"]: c["issued_at"] for c in _chains(world)}

        replicas = [world.one, *world.others]
        await asyncio.gather(
            *(world.send(world.document(f"TOK-{n}"), via=r) for n, r in enumerate(replicas))
        )

        assert world.refreshes.made == 1
        changed = [c for c in _chains(world) if before.get(c["chain_id"]) != c["issued_at"]]
        assert len(changed) == 1  # one new pair in one chain, no new chain
        booked = [e for r in replicas for e in r.producer.of_type(BookingAssigned.TYPE)]
        assert len(booked) == 1 + 4
        _refs_once(world, [f"TOK-{n}" for n in range(4)])
        # The first refresh token is spent: Exact refuses it as an old one.
        spent = httpx.post(
            f"{world.sandbox_url}/exact/api/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": world.token["refresh_token"],
                "client_id": "invoicesync-dev",
                "client_secret": "invoicesync-dev-secret",
                "redirect_uri": REDIRECT_URI,
            },
        )
        assert spent.status_code == 400

    async def test_refused_refresh_is_reported_once_without_a_storm(
        self, world: World, sessionmaker: Sessions
    ) -> None:
        control(world.sandbox_url, "POST", "/exact/tokens/revoke", json={"token": _access(world)})
        calls = world.one.sent.calls

        await world.send(world.document("REVOKED-1"))
        await world.send(world.document("REVOKED-2"))

        # The documents are not failed: they wait for the reconnect; the API is told.
        assert not world.results(SyncFailed.TYPE)
        lost = world.results(IntegrationConnectionLost.TYPE)
        assert [(e["status"], e["reason"]) for e in lost] == [
            ("needs_reauthorization", "refresh_refused")
        ]  # once per grant, however many documents meet the refusal
        assert world.one.sent.calls - calls == 1  # the one 401; then nothing more
        assert world.refreshes.made == 0
        assert await _status(sessionmaker, world) == "active"  # the API's to change
        # Released: the refused call wrote nothing, so the next try pushes, no lookup.
        assert await _ledger_states(sessionmaker, world) == ["failed", "failed"]

    async def test_a_grant_refused_during_a_read_back_is_reported_at_once(
        self, world: World, sessionmaker: Sessions
    ) -> None:
        """No document has to fail first: the payment read-back meets the refusal."""
        await world.send(world.document("RB-1"))
        control(world.sandbox_url, "POST", "/exact/tokens/revoke", json={"token": _access(world)})

        detected = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30)
        with held_at(detected):  # the shared clock: the loss is dated by it
            assert await world.one.readback.refresh_now(world.integration.id) == 0

        [lost] = world.results(IntegrationConnectionLost.TYPE)
        assert lost["status"] == "needs_reauthorization" and lost["reason"] == "refresh_refused"
        assert datetime.fromisoformat(str(lost["detected_at"])) == detected
        assert await _status(sessionmaker, world) == "active"  # the API's to change

    async def test_a_token_refused_with_a_401_is_not_sent_again_when_no_new_one_came(
        self, world: World
    ) -> None:
        """Exact counts each 401 towards its block: a push retried after a failed refresh
        must refresh first, not spend another 401 on the token already refused."""
        stale = _access(world)
        control(world.sandbox_url, "POST", "/exact/tokens/expire", json={"token": stale})
        control(
            world.sandbox_url,
            "POST",
            "/faults",
            json={"system": "exact", "path_pattern": "oauth2/token", "kind": "http_500"},
        )
        sent: list[str] = []

        async def record(request: httpx.Request) -> None:
            sent.append(request.headers["Authorization"].removeprefix("Bearer "))

        world.one.http.event_hooks["request"].append(record)
        with pytest.raises(TransientError):  # the 401, then the refresh meets the 500
            await world.one.client.get(world.integration.id, None, "current/Me")
        answer = await world.one.client.get(world.integration.id, None, "current/Me")

        assert answer["d"]
        assert sent.count(stale) == 1 and len(sent) == 2

    async def test_a_lost_refresh_answer_is_reported_not_written(
        self, world: World, sessionmaker: Sessions
    ) -> None:
        """Exact rotates, the answer is lost: the same refresh token is tried once more,
        refused as spent, and the connection loss goes to the API as an event."""
        await world.send(world.document("LOST-0"))  # customer and master data exist
        await _expire_everywhere(world, sessionmaker)
        _drop_next_token_answer(world)

        await world.send(world.document("LOST-1"))

        assert control(world.sandbox_url, "GET", "/faults")["armed"] == []  # it fired
        assert not world.results(SyncFailed.TYPE)
        [lost] = world.results(IntegrationConnectionLost.TYPE)
        assert lost["status"] == "needs_reauthorization" and lost["reason"] == "refresh_refused"
        assert "Old refresh token used" in lost["message"]  # the lost call rotated the pair
        assert world.token["refresh_token"] not in str(lost)
        assert await _status(sessionmaker, world) == "active"  # not written by the connector
        assert "LOST-1" not in {e["your_ref"] for e in world.entries()}

    async def test_no_row_lock_is_held_across_the_token_call(
        self, world: World, sessionmaker: Sessions
    ) -> None:
        """While the token call hangs, another transaction updates the integration row."""
        await _expire_everywhere(world, sessionmaker)
        fired = control(world.sandbox_url, "GET", "/faults")["fired"].get(DROP, 0)
        _drop_next_token_answer(world)
        sending = asyncio.create_task(world.send(world.document("LOCK-1")))
        await _until_fired(world, fired)  # the token call is in flight now (it hangs 3 s)

        async with sessionmaker.begin() as session:
            await session.execute(text("SET LOCAL lock_timeout = '500ms'"))
            updated = await session.scalar(
                update(Integration)
                .where(Integration.id == world.integration.id)
                .values(nightly_hour=Integration.nightly_hour)
                .returning(Integration.id)
            )
        assert updated == world.integration.id
        assert not sending.done()  # the token call was still in flight
        await sending

    async def test_documents_wait_while_the_integration_needs_reauthorisation(
        self, world: World, sessionmaker: Sessions
    ) -> None:
        """Set by the API after a lost connection: no call, no failure; pending it stays."""
        async with sessionmaker.begin() as session:
            await session.execute(
                update(Integration)
                .where(Integration.id == world.integration.id)
                .values(status="needs_reauthorization")
            )
        calls = world.one.sent.calls

        await world.send(world.document("WAIT-1"))

        assert world.one.producer.published == []
        assert world.one.sent.calls == calls


class TestDivisionAccess:
    """The connected user's access to the division is withdrawn in Exact (403,
    ``Reason: NoDivisionAccess`` on every call of that division): a lost connection for
    the API to announce, not a failure of the documents."""

    async def test_a_withdrawn_division_is_reported_once_and_its_documents_wait(
        self, world: World, sessionmaker: Sessions
    ) -> None:
        await world.send(world.document("DIV-0"))  # customer and master data exist
        _division_access(world, granted=False)
        waiting = [world.document("DIV-1"), world.document("DIV-2")]

        for document in waiting:
            await world.send(document)

        assert not world.results(SyncFailed.TYPE)
        [lost] = world.results(IntegrationConnectionLost.TYPE)
        assert (lost["status"], lost["reason"]) == (
            "needs_reauthorization",
            "division_access_withdrawn",
        )
        assert f"division {world.code}" in lost["message"]
        assert lost["credentials_issued_at"] is not None
        assert world.refreshes.made == 0  # a 403 is no token problem
        assert await _status(sessionmaker, world) == "active"  # the API's to change
        # Released: the refused calls wrote nothing (no lookup needed on the next try).
        assert await _ledger_states(sessionmaker, world) == ["booked", "failed", "failed"]

        # Access given back (and the integration connected again): the documents flow,
        # each booked once.
        _division_access(world, granted=True)
        for document in waiting:
            await world.send(document)
        assert len(world.results(BookingAssigned.TYPE)) == 3
        assert await _ledger_states(sessionmaker, world) == ["booked"] * 3
        _refs_once(world, ["DIV-0", "DIV-1", "DIV-2"])

    async def test_an_expired_token_is_refreshed_first_and_not_reported(
        self, world: World, sessionmaker: Sessions
    ) -> None:
        """The 401 of an expired access token is refreshed as ever; only the division's
        403 that follows is reported, about the tokens of the refresh."""
        await world.send(world.document("EXP-0"))
        control(world.sandbox_url, "POST", "/exact/tokens/expire", json={"token": _access(world)})
        _division_access(world, granted=False)

        await world.send(world.document("EXP-1"))

        assert world.refreshes.made == 1
        assert not world.results(SyncFailed.TYPE)
        [lost] = world.results(IntegrationConnectionLost.TYPE)
        assert lost["reason"] == "division_access_withdrawn"
        async with sessionmaker() as session:
            stored = await session.get(Integration, world.integration.id)
        assert stored is not None and stored.token_issued_at is not None
        assert datetime.fromisoformat(lost["credentials_issued_at"]) == stored.token_issued_at


def _division_access(world: World, *, granted: bool) -> None:
    path = f"/exact/divisions/{world.code}/access"
    control(world.sandbox_url, "POST", path, json={"granted": granted})


DROP = "drop_response_after_commit"


async def _until_fired(world: World, fired: int) -> None:
    """Poll the sandbox's fault tally until the armed drop has fired."""
    for _ in range(200):
        if control(world.sandbox_url, "GET", "/faults")["fired"].get(DROP, 0) > fired:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the token call never reached the sandbox")


def _drop_next_token_answer(world: World) -> None:
    arm_fault(world.sandbox_url, "oauth2/token", DROP)


async def _expire_everywhere(world: World, sessionmaker: Sessions) -> None:
    """The access token ends in Exact and in our row: the next call refreshes first."""
    control(world.sandbox_url, "POST", "/exact/tokens/expire", json={"token": _access(world)})
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Integration)
            .where(Integration.id == world.integration.id)
            .values(token_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )


async def _status(sessionmaker: Sessions, world: World) -> str:
    async with sessionmaker() as session:
        stored = await session.get(Integration, world.integration.id)
    assert stored is not None
    return stored.status


async def _ledger_states(sessionmaker: Sessions, world: World) -> list[str]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(LedgerEntry.state).where(LedgerEntry.integration_id == world.integration.id)
        )
        return sorted(rows)


class TestCustomers:
    async def test_replicas_meeting_a_new_customer_at_once_create_it_once(
        self, world: World, sessionmaker: Sessions, secret_box: SecretBox
    ) -> None:
        world.others = [replica(world.sandbox_url, sessionmaker, secret_box) for _ in range(3)]
        replicas = [world.one, *world.others]
        accounts_before = len(world.state()["accounts"])
        fresh = CustomerData(external_id="fresh-1", name="Versbakkerij Fresh", country="NL")

        await asyncio.gather(
            *(
                world.send(world.document(f"NEWC-{n}", customer=fresh), via=r)
                for n, r in enumerate(replicas)
            )
        )

        accounts = world.state()["accounts"]
        assert len(accounts) == accounts_before + 1
        booked = [e for r in replicas for e in r.producer.of_type(BookingAssigned.TYPE)]
        assert len(booked) == 4
        _refs_once(world, [f"NEWC-{n}" for n in range(4)])
        # Known now: the next document finds the link without a single lookup in Exact.
        calls = world.one.sent.calls
        await world.send(world.document("NEWC-4", customer=fresh))
        assert world.one.sent.calls - calls == 1  # the SalesEntry POST alone

    @pytest.mark.parametrize(
        ("field", "exact_field"),
        [("vat_number", "VATNumber"), ("company_number", "ChamberOfCommerce")],
    )
    async def test_an_account_with_the_same_number_is_matched_not_created_again(
        self, world: World, field: str, exact_field: str
    ) -> None:
        """The bookkeeper keeps the customer under another name and code; its VAT (or
        Chamber of Commerce) number finds it, so the entry goes to that account."""
        number = {"vat_number": "NL001234567B01", "company_number": "12345678"}[field]
        existing = await world.one.client.post(
            world.integration.id,
            world.code,
            "crm/Accounts",
            {"Name": "Jansen Holding B.V.", "Code": "4711", "Status": "C", exact_field: number},
        )
        account_id = str(existing["d"]["ID"])
        accounts_before = len(world.state()["accounts"])
        customer = CustomerData(
            external_id=f"jansen-{field}", name="Jansen BV", country="NL", **{field: number}
        )

        await world.send(world.document(f"MATCH-{field}", customer=customer))

        assert len(world.state()["accounts"]) == accounts_before
        [entry] = world.entries()
        assert entry["customer"] == account_id
        [result] = world.results(BookingAssigned.TYPE)
        assert result["customer_created"] is False


class TestRateLimits:
    @pytest.fixture
    def fast_sandbox(self) -> Iterator[tuple[str, SandboxSettings, Starlette]]:
        """A sandbox of its own: 10 calls a minute, and a minute lasting 2 s."""
        settings = SandboxSettings(
            port=free_port(),
            auto_approve=True,
            redirect_uri=REDIRECT_URI,
            exact_minutely_limit=10,
            time_scale=30.0,
        )
        app = create_sandbox(settings)
        with serve_in_thread(app, port=settings.port) as url:
            yield url, settings, app

    async def test_thirty_documents_without_a_429(
        self,
        fast_sandbox: tuple[str, SandboxSettings, Starlette],
        sessionmaker: Sessions,
        secret_box: SecretBox,
    ) -> None:
        url, _, app = fast_sandbox
        budget = SandboxTimeBudget(app.state.ctx.clock)
        world = await connect(url, sessionmaker, secret_box, budget=budget)
        try:
            await world.send(world.document("WARM-1"))
            calls, started = world.one.sent.calls, time.monotonic()
            for n in range(30):
                await world.send(world.document(f"RATE-{n}"))
            elapsed = time.monotonic() - started
            used = world.one.sent.calls - calls
        finally:
            await world.close(sessionmaker)

        assert len(world.results(BookingAssigned.TYPE)) == 31
        assert world.one.sent.rate_limited == 0
        assert used / 30 <= 1.05
        print(
            f"\n30 documents, known customer, 10 calls/min: {used} calls "
            f"({used / 30:.2f}/doc), 0 x 429, {elapsed:.1f} s, waited {budget.waited_seconds:.1f} s"
        )


class TestFaults:
    @pytest.mark.parametrize(
        "kind", ["http_500", "http_429", "timeout", "drop_response_after_commit"]
    )
    async def test_one_entry_per_document_whatever_happens(self, world: World, kind: str) -> None:
        await world.send(world.document("WARM-1"))
        fired = control(world.sandbox_url, "GET", "/faults")["fired"].get(kind, 0)
        control(
            world.sandbox_url,
            "POST",
            "/faults",
            json={
                "system": "exact",
                "path_pattern": "salesentry/SalesEntries",
                "kind": kind,
                "count": 1,
                "method": "POST",
            },
        )

        await world.send(world.document(f"FAULT-{kind[:12]}"))

        assert control(world.sandbox_url, "GET", "/faults")["fired"][kind] == fired + 1
        assert len(world.results(BookingAssigned.TYPE)) == 2
        assert not world.results(SyncFailed.TYPE)
        _refs_once(world, ["WARM-1", f"FAULT-{kind[:12]}"])

    @pytest.mark.parametrize(
        ("delay", "settle"),
        [(3.0, 2.0), (5.0, 2.0)],
        ids=["visible-after-the-settle-time", "visible-only-to-the-confirming-lookup"],
    )
    async def test_an_entry_visible_only_seconds_after_its_lost_answer_is_adopted(
        self,
        world: World,
        sessionmaker: Sessions,
        secret_box: SecretBox,
        delay: float,
        settle: float,
    ) -> None:
        """The answer to the create is lost (the client gives up after 2 s) and Exact
        shows the entry only ``delay`` s after it committed: the runtime looks it up
        after ``settle`` s, and believes "not found" only after a second lookup another
        ``settle`` s later, so the entry is adopted, never booked twice."""
        settling = replica(world.sandbox_url, sessionmaker, secret_box, settle=settle)
        world.others.append(settling)
        await world.send(world.document("WARM-1"), via=settling)
        fault = {
            "system": "exact",
            "path_pattern": "salesentry/SalesEntries",
            "kind": "drop_response_visible_late",
            "delay_seconds": delay,
            "method": "POST",
        }
        control(world.sandbox_url, "POST", "/faults", json=fault)

        await world.send(world.document("LATE-1"), via=settling)

        _refs_once(world, ["WARM-1", "LATE-1"])
        booked = [e.data for e in settling.producer.of_type(BookingAssigned.TYPE)]
        assert [b["adopted"] for b in booked] == [False, True]
        late = next(e for e in world.entries() if e["your_ref"] == "LATE-1")
        assert booked[1]["remote_id"] == late["entry_id"]
        assert not settling.producer.of_type(SyncFailed.TYPE)


class TestBookkeeperErrors:
    async def test_unknown_vat_code(self, world: World) -> None:
        calls = world.one.sent.calls
        await world.send(world.document("VAT-1", lines=[odd_vat_line()]))

        failure = _one_failure(world)
        assert failure["code"] == "unknown_vat_code" and failure["retryable"] is False
        assert "7" in str(failure["message"])
        assert world.one.sent.calls - calls <= 4  # account, GL accounts, VAT codes: no POST
        assert world.entries() == []

    async def test_a_retry_after_the_vat_code_is_added_in_exact_books(self, world: World) -> None:
        """The failure says "add one in Exact"; once the bookkeeper has, the retry of that
        document books at once (the failure dropped the division's VAT codes, so they are
        read again), without a restart and without waiting for the lists' time to live."""
        document = world.document("VAT-2", lines=[odd_vat_line()])
        await world.send(document)
        assert _one_failure(world)["code"] == "unknown_vat_code"
        body = {"code": "7", "description": "7 %", "percentage": "0.07"}
        control(world.sandbox_url, "POST", f"/exact/divisions/{world.code}/vat-codes", json=body)

        await world.send(document)  # the retry: the same document asked for again

        [booked] = world.results(BookingAssigned.TYPE)
        [entry] = world.entries()
        assert booked["booking_number"] == str(entry["entry_number"])
        assert [line["vat_code"].strip() for line in entry["lines"]] == ["7"]

    async def test_a_retry_after_the_gl_account_is_added_in_exact_books(self, world: World) -> None:
        line = world.document("GL-0").lines[0].model_copy(update={"gl_account": "8123"})
        document = world.document("GL-1", lines=[line])
        await world.send(document)
        assert _one_failure(world)["code"] == "gl_account_missing"
        body = {"code": "8123", "description": "Consulting"}
        control(world.sandbox_url, "POST", f"/exact/divisions/{world.code}/gl-accounts", json=body)

        await world.send(document)

        [booked] = world.results(BookingAssigned.TYPE)
        [entry] = world.entries()
        assert booked["booking_number"] == str(entry["entry_number"])

    async def test_journal_missing(
        self, shared_sandbox_url: str, sessionmaker: Sessions, secret_box: SecretBox
    ) -> None:
        world = await connect(
            shared_sandbox_url, sessionmaker, secret_box, settings={"sales_journal": "99"}
        )
        try:
            with pytest.raises(PermanentError) as refused:
                await world.one.runtime.verify(world.integration.id)
            assert refused.value.code == "journal_missing"
            assert "'99'" in refused.value.message
            posts = world.one.sent.calls
            await world.send(world.document("JOURNAL-1"))
            failure = _one_failure(world)
            used = world.one.sent.calls - posts
        finally:
            await world.close(sessionmaker)
        assert failure["code"] == "journal_missing" and failure["retryable"] is False
        assert used <= 5  # lookups and one POST, never retried

    async def test_customer_blocked(self, world: World) -> None:
        await world.send(world.document("BLOCK-1"))
        [account] = world.state()["accounts"]
        control(
            world.sandbox_url,
            "POST",
            f"/exact/divisions/{world.code}/accounts/{account['id']}/block",
            json={"blocked": True},
        )
        calls = world.one.sent.calls

        await world.send(world.document("BLOCK-2"))

        failure = _one_failure(world)
        assert failure["code"] == "customer_blocked" and failure["retryable"] is False
        assert world.one.sent.calls - calls == 1  # one refused POST, no retry
        assert [e["your_ref"] for e in world.entries()] == ["BLOCK-1"]


class TestPayments:
    async def test_a_payment_is_read_back_once_and_early_documents_are_left_alone(
        self, world: World
    ) -> None:
        await world.send(world.document("PAY-1"))
        await world.send(world.document("EARLY-1", issue_date=BEFORE_START))
        pay_1, early = world.results(BookingAssigned.TYPE)
        early_entry = _entry(world, "EARLY-1")
        control(
            world.sandbox_url,
            "POST",
            f"/exact/divisions/{world.code}/entries/{early_entry}/payment",
            json={},
        )

        calls = world.one.sent.calls
        await world.one.readback.refresh_now(world.integration.id)
        # A page of sales entries and one of purchase entries (the purchase journal), a
        # look by ID at the one dated before the start date (outside the pages' filter), a
        # page of receivables.
        assert world.one.sent.calls - calls == 4
        assert _payments(world) == [("PAY-1", "open")]

        control(
            world.sandbox_url,
            "POST",
            f"/exact/divisions/{world.code}/entries/{pay_1['remote_id']}/payment",
            json={},
        )
        # On demand, through the control route the connector serves.
        routes = [refresh_route(world.one.readback.refresh_now)]
        transport = httpx.ASGITransport(app=Starlette(routes=routes))
        async with httpx.AsyncClient(transport=transport, base_url="http://connector") as http:
            answer = await http.post(f"/integrations/{world.integration.id}/refresh")
        assert answer.status_code == 200, answer.text
        assert answer.json()["results_emitted"] == 1
        assert _payments(world) == [("PAY-1", "open"), ("PAY-1", "paid")]

        await world.one.readback.refresh_now(world.integration.id)  # nothing changed: nothing said
        assert len(world.results(PaymentStatusChanged.TYPE)) == 2
        assert early["document_id"] not in {
            p["document_id"] for p in world.results(PaymentStatusChanged.TYPE)
        }

    async def test_replicas_polling_at_once_report_a_change_once(
        self, world: World, sessionmaker: Sessions, secret_box: SecretBox
    ) -> None:
        await world.send(world.document("PAY-2"))
        world.others = [replica(world.sandbox_url, sessionmaker, secret_box) for _ in range(2)]

        await asyncio.gather(
            *(r.readback.refresh_now(world.integration.id) for r in [world.one, *world.others])
        )

        changes = [
            e
            for r in [world.one, *world.others]
            for e in r.producer.of_type(PaymentStatusChanged.TYPE)
            if e.data["integration_id"] == str(world.integration.id)
        ]
        assert [c.data["payment_status"] for c in changes] == ["open"]


class TestDeletedEntries:
    async def test_the_audit_reports_an_entry_deleted_in_exact(self, world: World) -> None:
        for n in range(3):
            await world.send(world.document(f"DEL-{n}"))
        booked = {b["remote_id"]: b for b in world.results(BookingAssigned.TYPE)}
        gone = _entry(world, "DEL-2")
        deleted = httpx.delete(
            f"{world.sandbox_url}/exact/api/v1/{world.code}/salesentry/SalesEntries(guid'{gone}')",
            headers={"Authorization": f"Bearer {_access(world)}", "Accept": "application/json"},
        )
        assert deleted.status_code == 204, deleted.text

        checked = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30)
        with held_at(checked):  # the shared clock: the check is dated by it
            await world.one.readback.refresh_now(world.integration.id)

        [missing] = world.results(RemoteEntryMissing.TYPE)
        assert datetime.fromisoformat(str(missing["checked_at"])) == checked
        assert missing["document_id"] == booked[gone]["document_id"]
        assert missing["booking_number"] == booked[gone]["booking_number"]
        paid_or_open = {p["document_id"] for p in world.results(PaymentStatusChanged.TYPE)}
        assert missing["document_id"] not in paid_or_open and len(paid_or_open) == 2
        await world.one.readback.refresh_now(world.integration.id)  # reported once
        assert len(world.results(RemoteEntryMissing.TYPE)) == 1


def _access(world: World) -> str:
    return str(world.token["access_token"])


def _chains(world: World) -> list[dict[str, object]]:
    return [
        c
        for c in control(world.sandbox_url, "GET", "/exact/chains")
        if c["client_id"] == "invoicesync-dev"
    ]


def _entry(world: World, your_ref: str) -> str:
    [entry] = [e for e in world.entries() if e["your_ref"] == your_ref]
    return str(entry["entry_id"])


def _payments(world: World) -> list[tuple[str, str]]:
    numbers = {b["document_id"]: b for b in world.results(BookingAssigned.TYPE)}
    refs = {e["entry_id"]: e["your_ref"] for e in world.entries()}
    return [
        (refs[numbers[p["document_id"]]["remote_id"]], p["payment_status"])
        for p in world.results(PaymentStatusChanged.TYPE)
    ]
