"""After an unknown outcome the Exact connector adopts only the entry that is provably ours
(our marker in its Description; date, total and customer agree), against the sandbox over
real HTTP: invoice numbers repeat across years, bookkeepers type entries by hand with our
reference, and one journal may hold invoices and credit notes alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from invoicesync_shared.connectors.provenance import marker
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.models import LedgerEntry
from invoicesync_shared.events.documents import DocumentSnapshot
from invoicesync_shared.events.results import BookingAssigned, SyncFailed
from tests.integration.connectors.exact_support import Sessions, World, arm_fault, connect, control

LAST_YEAR = date(2025, 11, 20)  # the factory's documents are of 2026-11-20


@pytest.fixture
async def one_journal(
    shared_sandbox_url: str, sessionmaker: Sessions, secret_box: SecretBox
) -> AsyncIterator[World]:
    """A division whose invoices and credit notes go to the same sales journal."""
    division = control(shared_sandbox_url, "POST", "/exact/divisions", json={})
    world = await connect(
        shared_sandbox_url,
        sessionmaker,
        secret_box,
        settings={"credit_note_journal": division["sales_journal"]},
    )
    yield world
    await world.close(sessionmaker)


def _lose_next_answer(world: World, kind: str = "drop_response_after_commit") -> None:
    arm_fault(world.sandbox_url, "salesentry/SalesEntries", kind)


async def _typed_by_hand(
    world: World,
    reference: str,
    *,
    day: date,
    net: str = "100.00",
    vat: str = "21.00",
    description: str = "Typed by hand",
) -> dict[str, Any]:
    """An entry a bookkeeper made in Exact, for the customer our warm-up push created."""
    client, integration, code = world.one.client, world.integration.id, world.code
    [account] = await client.results(
        integration, code, "crm/Accounts", {"$filter": "Name eq 'Customer cust-1'"}
    )
    revenue = await client.results(
        integration, code, "financial/GLAccounts", {"$filter": "Type eq 110"}
    )
    vat_codes = await client.results(
        integration, code, "vat/VATCodes", {"$select": "Code,Percentage"}
    )
    [vat_code] = [v for v in vat_codes if float(v["Percentage"]) == 0.21][:1]
    body = await client.post(
        integration,
        code,
        "salesentry/SalesEntries",
        {
            "Journal": world.integration.settings["sales_journal"],
            "Customer": account["ID"],
            "EntryDate": f"{day.isoformat()}T00:00:00Z",
            "YourRef": reference,
            "Description": description,
            "Type": 20,
            "SalesEntryLines": [
                {
                    "GLAccount": revenue[0]["ID"],
                    "AmountFC": net,
                    "VATAmountFC": vat,
                    "VATCode": vat_code["Code"],
                }
            ],
        },
    )
    return dict(body["d"])


def _with_ref(world: World, reference: str) -> list[dict[str, Any]]:
    return [e for e in world.entries() if e["your_ref"] == reference]


def _booked(world: World, document: DocumentSnapshot) -> dict[str, Any]:
    [booked] = [
        b for b in world.results(BookingAssigned.TYPE) if b["document_id"] == str(document.id)
    ]
    return booked


async def _ledger_state(sessionmaker: Sessions, document: DocumentSnapshot) -> str:
    async with sessionmaker() as session:
        state = await session.scalar(select(LedgerEntry.state).filter_by(document_id=document.id))
    return str(state)


class TestAdoption:
    async def test_last_years_entry_of_the_same_number_is_not_adopted(self, world: World) -> None:
        await world.send(world.document("WARM-A"))  # creates and links the customer
        last_year = await _typed_by_hand(world, "INV-A", day=LAST_YEAR, net="50.00", vat="10.50")
        document = world.document("INV-A")
        _lose_next_answer(world)

        await world.send(document)

        assert not world.results(SyncFailed.TYPE)
        booked = _booked(world, document)
        [ours] = [e for e in _with_ref(world, "INV-A") if e["entry_id"] != last_year["EntryID"]]
        assert booked["adopted"] is True
        assert booked["remote_id"] == ours["entry_id"]
        assert booked["booking_number"] == str(ours["entry_number"])
        assert len(_with_ref(world, "INV-A")) == 2  # last year's and ours: pushed once

    async def test_an_entry_typed_by_hand_with_our_reference_is_ambiguous(
        self, world: World, sessionmaker: Sessions
    ) -> None:
        await world.send(world.document("WARM-B"))
        by_hand = await _typed_by_hand(world, "INV-B", day=date(2026, 11, 20))
        document = world.document("INV-B")
        _lose_next_answer(world, "timeout")  # not applied: only the hand-made entry exists

        await world.send(document)
        await world.send(document)  # redelivered (or retried): still never adopted, not sent

        assert not world.results(BookingAssigned.TYPE)[1:]  # only WARM-B was booked
        failures = world.results(SyncFailed.TYPE)
        assert [f["code"] for f in failures] == ["ambiguous_match", "ambiguous_match"]
        assert all(f["retryable"] for f in failures)
        message = str(failures[0]["message"])
        assert f"entry {by_hand['EntryNumber']}" in message
        assert marker(document.id) in message  # what to add if it is this invoice
        assert [e["entry_id"] for e in _with_ref(world, "INV-B")] == [by_hand["EntryID"]]
        assert await _ledger_state(sessionmaker, document) == "attempting"

        # The bookkeeper finds it is this invoice, adds the marker as told, and retries.
        edited = httpx.put(
            f"{world.sandbox_url}/exact/api/v1/{world.code}/salesentry/"
            f"SalesEntries(guid'{by_hand['EntryID']}')",
            headers={"Authorization": f"Bearer {world.token['access_token']}"},
            json={"Description": f"Typed by hand {marker(document.id)}"},
        )
        assert edited.status_code == 204, edited.text
        await world.send(document)

        adopted = _booked(world, document)
        assert (adopted["remote_id"], adopted["adopted"]) == (by_hand["EntryID"], True)
        assert len(_with_ref(world, "INV-B")) == 1

    async def test_a_copy_carrying_our_marker_is_ambiguous(self, world: World) -> None:
        await world.send(world.document("WARM-D"))
        document = world.document("INV-D")
        await _typed_by_hand(
            world,
            "INV-D",
            day=date(2026, 11, 20),
            description=f"Copy {marker(document.id)}",
        )
        _lose_next_answer(world)

        await world.send(document)

        [failure] = world.results(SyncFailed.TYPE)
        assert failure["code"] == "ambiguous_match"
        assert "2 entries" in str(failure["message"])
        assert len(_with_ref(world, "INV-D")) == 2  # the copy and ours: pushed once

    async def test_a_credit_note_of_the_same_number_in_a_shared_journal_is_not_adopted(
        self, one_journal: World
    ) -> None:
        world = one_journal
        credit_note = world.document("INV-C", kind="credit_note")
        await world.send(credit_note)
        document = world.document("INV-C")
        _lose_next_answer(world)

        await world.send(document)

        assert not world.results(SyncFailed.TYPE)
        booked = _booked(world, document)
        entries = _with_ref(world, "INV-C")
        assert sorted(e["type"] for e in entries) == [20, 21]
        [ours] = [e for e in entries if e["type"] == 20]
        assert booked["remote_id"] == ours["entry_id"]
        assert booked["remote_id"] != _booked(world, credit_note)["remote_id"]
