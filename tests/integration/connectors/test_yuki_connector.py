"""The Yuki connector through the runtime against the sandbox over real HTTP: batches,
per-invoice refusals, edits, closed periods, expired sessions and lost responses."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connector_yuki.readback import YukiReadBack
from invoicesync_shared.connectors.errors import PermanentError
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.models import Integration, LedgerEntry
from invoicesync_shared.events.documents import CustomerData
from invoicesync_shared.events.results import PaymentStatusChanged
from tests.support.yuki import (
    Yuki,
    add_integration,
    document,
    verify,
)


async def test_verify_names_the_administration_or_says_what_is_wrong(
    yuki: Yuki, sessionmaker: async_sessionmaker[AsyncSession], secret_box: SecretBox
) -> None:
    facts = await verify(yuki.connector, yuki.integration)
    assert facts["administration_id"] == yuki.administration_id
    assert facts["administration_name"].startswith("Test ")

    bad_key = await add_integration(sessionmaker, secret_box, "not-a-key", yuki.administration_id)
    with pytest.raises(PermanentError) as refused:
        await verify(yuki.connector, bad_key)
    assert refused.value.code == "invalid_access_key"

    foreign = await add_integration(sessionmaker, secret_box, yuki.access_key, str(uuid.uuid4()))
    with pytest.raises(PermanentError) as missing:
        await verify(yuki.connector, foreign)
    assert missing.value.code == "administration_not_found"
    assert facts["administration_name"] in missing.value.message


async def test_a_revoked_key_is_reported_once_and_the_documents_wait_for_a_new_one(
    yuki: Yuki, sessionmaker: async_sessionmaker[AsyncSession], secret_box: SecretBox
) -> None:
    """Yuki refuses the key (Authenticate faults): no document fails; the API hears it
    once, and the documents go through with the new key stored on the integration."""
    await yuki.sync(document(yuki.integration, "KEY-0"))  # a session is open
    await yuki.post("/_sandbox/yuki/keys/revoke", {"access_key": yuki.access_key})
    waiting = [document(yuki.integration, f"KEY-{n}") for n in (1, 2)]

    await yuki.sync(*waiting)

    assert yuki.failed() == {}
    [lost] = yuki.lost()
    assert (lost["status"], lost["reason"]) == ("needs_reauthorization", "access_key_refused")
    assert "settings.access_key" in lost["message"]
    # Released: the refused calls wrote nothing (no lookup needed on the next try).
    assert await _ledger_states(sessionmaker, yuki) == ["booked", "failed", "failed"]

    new_key = (await yuki.post(f"{yuki.control_path}/access", {"granted": True}))["access_key"]
    await _store_key(sessionmaker, secret_box, yuki, new_key)  # what PATCH settings does
    await yuki.sync(*waiting)
    assert len(yuki.booked()) == 3 and yuki.failed() == {}
    assert sorted(d["reference"] for d in (await yuki.state())["documents"]) == [
        "KEY-0",
        "KEY-1",
        "KEY-2",
    ]


async def test_a_withdrawn_administration_is_reported_naming_it_and_flows_once_given_back(
    yuki: Yuki, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await yuki.sync(document(yuki.integration, "ADM-0"))
    access = f"{yuki.control_path}/access"
    await yuki.post(access, {"access_key": yuki.access_key, "granted": False})
    waiting = document(yuki.integration, "ADM-1")

    await yuki.sync(waiting)

    assert yuki.failed() == {}
    [lost] = yuki.lost()
    assert (lost["status"], lost["reason"]) == (
        "needs_reauthorization",
        "administration_access_withdrawn",
    )
    assert yuki.administration_id in lost["message"]
    assert await _ledger_states(sessionmaker, yuki) == ["booked", "failed"]

    await yuki.post(access, {"access_key": yuki.access_key, "granted": True})
    await yuki.sync(waiting)
    assert len(yuki.booked()) == 2 and yuki.failed() == {}


async def _ledger_states(sessionmaker: async_sessionmaker[AsyncSession], yuki: Yuki) -> list[str]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(LedgerEntry.state).where(LedgerEntry.integration_id == yuki.integration.id)
        )
        return sorted(rows)


async def _store_key(
    sessionmaker: async_sessionmaker[AsyncSession], box: SecretBox, yuki: Yuki, key: str
) -> None:
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Integration)
            .where(Integration.id == yuki.integration.id)
            .values(credentials=box.encrypt_json({"access_key": key}))
        )


async def test_a_batch_books_the_good_documents_and_refuses_only_the_bad_ones(
    yuki: Yuki,
) -> None:
    await yuki.post(
        f"/_sandbox/yuki/administrations/{yuki.administration_id}/periods/close",
        {"year": 2024, "month": 2},
    )
    await yuki.reset_stats()
    docs = [document(yuki.integration, f"B-{n:03d}") for n in range(48)]
    closed = document(yuki.integration, "B-CLOSED", day=date(2024, 2, 10))
    nameless = document(
        yuki.integration, "B-NONAME", customer=CustomerData(external_id="UNKNOWN", name="")
    )
    docs[10:10], docs[30:30] = [closed], [nameless]

    await yuki.sync(*docs)

    booked, failed = yuki.booked(), yuki.failed()
    assert len(booked) == 48 and len(failed) == 2
    assert failed[str(closed.id)]["code"] == "period_closed"
    assert failed[str(nameless.id)]["code"] == "contact_not_found"
    assert "Contact not found" in failed[str(nameless.id)]["message"]
    assert not any(f["retryable"] for f in failed.values())
    state = await yuki.state()
    by_reference = {d["reference"]: d for d in state["documents"]}
    assert len(by_reference) == 48
    assert {b["remote_id"] for b in booked.values()} == {
        d["document_id"] for d in by_reference.values()
    }
    assert by_reference["B-000"]["lines"][0]["gl_account"] == "8100"  # the integration default
    assert by_reference["B-000"]["gross"] == "242.00"
    stats = await yuki.stats()
    assert stats["invoices_total"] == 50
    assert stats["process_calls"] <= 3, stats["invoices_per_call"]


async def test_an_edit_after_a_sync_updates_the_document_and_resets_cost_centres(
    yuki: Yuki,
) -> None:
    original = document(yuki.integration, "E-1")
    await yuki.sync(original)
    first = yuki.booked()[str(original.id)]
    await yuki.post(
        f"/_sandbox/yuki/administrations/{yuki.administration_id}/cost-centres",
        {"reference": "E-1", "cost_centre": "CC-10", "project": "P-7"},
    )

    edited = document(yuki.integration, "E-1", price="150.00", revision=1, document_id=original.id)
    yuki.producer.published.clear()
    await yuki.sync(edited, updated=True)

    again = yuki.booked()[str(original.id)]
    assert (again["remote_id"], again["booking_number"]) == (
        first["remote_id"],
        first["booking_number"],
    )
    [stored] = (await yuki.state())["documents"]
    assert stored["document_id"] == first["remote_id"]
    assert stored["version"] == 2 and stored["gross"] == "363.00"
    assert all(line["cost_centre"] is None and line["project"] is None for line in stored["lines"])

    yuki.producer.published.clear()
    await yuki.sync(edited, updated=True)  # the same revision again: nothing is sent
    assert (await yuki.state())["documents"][0]["version"] == 2


async def test_a_closed_period_fails_once_without_retries(yuki: Yuki) -> None:
    await yuki.post(
        f"/_sandbox/yuki/administrations/{yuki.administration_id}/periods/close",
        {"year": 2024, "month": 3},
    )
    await yuki.reset_stats()
    closed = document(yuki.integration, "P-1", day=date(2024, 3, 15))

    await yuki.sync(closed)

    failure = yuki.failed()[str(closed.id)]
    assert failure["code"] == "period_closed" and failure["retryable"] is False
    assert "2024-03" in failure["message"] and "reopen" in failure["message"]
    assert (await yuki.stats())["process_calls"] == 1
    assert (await yuki.state())["documents"] == []


async def test_an_expired_session_is_renewed_and_the_push_goes_through(yuki: Yuki) -> None:
    await yuki.sync(document(yuki.integration, "S-1"))
    expired = await yuki.post("/_sandbox/yuki/sessions/expire", {"access_key": yuki.access_key})
    assert expired["expired"] == 1

    later = [document(yuki.integration, f"S-{n}") for n in range(2, 6)]
    await yuki.sync(*later)

    assert len(yuki.booked()) == 5 and yuki.failed() == {}
    assert len((await yuki.state())["documents"]) == 5


async def test_a_lost_response_is_resolved_by_lookup_without_duplicates(yuki: Yuki) -> None:
    await verify(yuki.connector, yuki.integration)  # a session first: the fault hits the push
    await yuki.post(
        "/_sandbox/faults",
        {
            "system": "yuki",
            "path_pattern": "Sales.asmx",
            "method": "POST",
            "kind": "drop_response_after_commit",
            "count": 1,
        },
    )
    docs = [document(yuki.integration, f"L-{n}") for n in range(5)]

    await yuki.sync(*docs)

    booked = yuki.booked()
    assert len(booked) == 5 and yuki.failed() == {}
    assert all(b["adopted"] for b in booked.values())
    state = await yuki.state()
    references = sorted(d["reference"] for d in state["documents"])
    assert references == [f"L-{n}" for n in range(5)]  # one document per reference
    assert {b["remote_id"] for b in booked.values()} == {
        d["document_id"] for d in state["documents"]
    }


async def test_a_batch_visible_only_seconds_after_its_lost_answer_is_adopted(
    yuki: Yuki, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The answer to a batch is lost (the client gives up after 1.5 s) and Yuki shows its
    invoices only 4 s after they were booked: the runtime looks them up after 2 s and
    believes "not found" only after a second lookup 2 s later, so each is adopted; a
    push again would be refused as a duplicate reference."""
    settling = replace(
        yuki,
        runtime=ConnectorRuntime(
            yuki.connector,
            sessionmaker=sessionmaker,
            producer=yuki.producer,
            retry=RetryPolicy(attempts=4, initial=0.05, maximum=0.2),
            settle=timedelta(seconds=2.0),
        ),
    )
    await verify(settling.connector, yuki.integration)  # a session first: the fault hits the push
    async with httpx.AsyncClient() as http:
        mode = await http.put(f"{yuki.control}/duplicate-mode", json={"mode": "reject"})
    assert mode.status_code == 200, mode.text
    await yuki.post(
        "/_sandbox/faults",
        {
            "system": "yuki",
            "path_pattern": "Sales.asmx",
            "method": "POST",
            "kind": "drop_response_visible_late",
            "delay_seconds": 4.0,
            "count": 1,
        },
    )
    docs = [document(yuki.integration, f"LATE-{n}") for n in range(3)]

    await settling.sync(*docs)

    booked = settling.booked()
    assert len(booked) == 3 and settling.failed() == {}
    assert all(b["adopted"] for b in booked.values())
    state = await settling.state()
    assert sorted(d["reference"] for d in state["documents"]) == [f"LATE-{n}" for n in range(3)]
    assert {b["remote_id"] for b in booked.values()} == {
        d["document_id"] for d in state["documents"]
    }


@pytest.mark.parametrize("kind", ["http_500", "http_429", "timeout"])
async def test_plain_text_error_answers_are_retried_into_one_document_each(
    yuki: Yuki, kind: str
) -> None:
    """A gateway's text page (no SOAP body) is a transient error, never a crash; each
    operation counts in the shared vendor metrics, a 429 as rate-limited."""
    await verify(yuki.connector, yuki.integration)
    calls, limited = _vendor_counts()
    await yuki.post(
        "/_sandbox/faults",
        {
            "system": "yuki",
            "path_pattern": "Sales.asmx",
            "method": "POST",
            "kind": kind,
            "count": 1,
        },
    )
    docs = [document(yuki.integration, f"{kind}-{n}") for n in range(3)]
    await yuki.sync(*docs)
    assert len(yuki.booked()) == 3 and yuki.failed() == {}
    state = await yuki.state()
    references = [d["reference"] for d in state["documents"] if d["reference"].startswith(kind)]
    assert sorted(references) == [f"{kind}-{n}" for n in range(3)]
    calls_after, limited_after = _vendor_counts()
    assert calls_after - calls >= 2  # the refused call and its retry at least
    assert limited_after - limited == (1 if kind == "http_429" else 0)


def _vendor_counts() -> tuple[float, float]:
    """Yuki's requests and 429s so far in ``invoicesync_vendor_*_total``."""
    calls = REGISTRY.get_sample_value(
        "invoicesync_vendor_calls_total", {"system": "yuki", "method": "POST"}
    )
    limited = REGISTRY.get_sample_value("invoicesync_vendor_rate_limited_total", {"system": "yuki"})
    return calls or 0.0, limited or 0.0


async def test_payments_are_read_back_once_per_change(
    yuki: Yuki, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    docs = [document(yuki.integration, n) for n in ("PAY-1", "PAY-2", "PAY-3")]
    await yuki.sync(*docs)
    assert len(yuki.booked()) == 3
    number_of = {str(d.id): d.number for d in docs}
    reader = YukiReadBack(yuki.connector, sessionmaker, yuki.producer, interval=3600.0)

    def changes() -> list[tuple[str, str]]:
        return sorted(
            (number_of[e.subject], e.data["payment_status"])
            for e in yuki.producer.of_type(PaymentStatusChanged.TYPE)
        )

    assert await reader.refresh_now(yuki.integration.id) == 3
    assert changes() == [("PAY-1", "open"), ("PAY-2", "open"), ("PAY-3", "open")]

    payments = f"{yuki.control.removeprefix(yuki.url)}/payments"
    await yuki.post(payments, {"reference": "PAY-1"})
    await yuki.post(payments, {"reference": "PAY-2", "amount": "10.00"})  # partly paid
    assert await reader.refresh_now(yuki.integration.id) == 1  # PAY-2 is still open
    assert await reader.refresh_now(yuki.integration.id) == 0  # nothing changed: nothing said
    assert changes() == [
        ("PAY-1", "open"),
        ("PAY-1", "paid"),
        ("PAY-2", "open"),
        ("PAY-3", "open"),
    ]


async def test_a_failed_archive_lookup_does_not_stop_the_payment_read(
    yuki: Yuki, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """One sent purchase document whose archive lookup fails (Yuki answers 500) is tried
    again next round; the round still reads the payments of the booked documents."""
    sent, booked = document(yuki.integration, "ARC-1"), document(yuki.integration, "PAY-9")
    await yuki.sync(sent, booked)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.document_id == sent.id)
            .values(state="sent", booking_number=None)
        )
    armed = await yuki.post(
        "/_sandbox/faults",
        {"system": "yuki", "path_pattern": "Archive.asmx", "kind": "http_500", "count": 1},
    )
    reader = YukiReadBack(yuki.connector, sessionmaker, yuki.producer, interval=3600.0)

    assert await reader.refresh_now(yuki.integration.id) == 1

    changes = [
        (e.subject, e.data["payment_status"])
        for e in yuki.producer.of_type(PaymentStatusChanged.TYPE)
    ]
    assert changes == [(str(booked.id), "open")]
    async with httpx.AsyncClient() as http:
        faults = (await http.get(f"{yuki.url}/_sandbox/faults")).json()
    assert [f for f in faults["armed"] if f["id"] == armed["id"]] == []  # it fired
