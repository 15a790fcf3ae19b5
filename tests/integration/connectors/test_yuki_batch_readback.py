"""Stock Yuki answers an import without identifiers: the Yuki connector reads a whole
batch's back in one OutstandingDebtorItemsByDate call, each document taking only the item
with its own Reference and marker, against the stock sandbox over real SOAP. Every number
is checked against the sandbox's own state."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from invoicesync_shared.connectors.provenance import marker
from invoicesync_shared.events.documents import DocumentSnapshot
from tests.support.yuki import (
    Yuki,
    document,
    verify,
)

# Read-back calls per ProcessSalesInvoices call: the batch's one open-items read, and one
# spare for a window that happens to split it.
READS_PER_BATCH = 2
READ_BACK = ("OutstandingDebtorItemsByDate", "CheckOutstandingItemAdmin")


def _assert_each_has_its_own(
    yuki: Yuki, docs: list[DocumentSnapshot], state: dict[str, Any]
) -> None:
    """Every document booked under the sandbox's item of its own reference and marker."""
    by_reference = {d["reference"]: d for d in state["documents"]}
    assert len(by_reference) == len(docs)  # each pushed once
    booked = yuki.booked()
    for doc in docs:
        mine = by_reference[doc.number]
        assert marker(doc.id) in mine["subject"]
        got = booked[str(doc.id)]
        assert (got["remote_id"], got["booking_number"]) == (mine["document_id"], doc.number)
    assert len({b["remote_id"] for b in booked.values()}) == len(docs)


async def test_a_batch_of_200_is_read_back_in_one_call(yuki: Yuki) -> None:
    days = [date(2024, 3, 1) + timedelta(days=n % 7) for n in range(200)]
    docs = [
        document(yuki.integration, f"R-{n:03d}", day=day, price=f"{100 + n % 3}.00")
        for n, day in enumerate(days)
    ]
    yuki.connector.batcher.follow(lambda: len(docs))  # a backlog: the import goes out full

    await yuki.sync(*docs)

    assert yuki.failed() == {}
    state = await yuki.state()
    calls = state["calls"]
    assert calls["ProcessSalesInvoices"] == 1, calls
    assert sum(calls.get(op, 0) for op in READ_BACK) <= READS_PER_BATCH, calls
    assert calls.get("CheckOutstandingItemAdmin", 0) == 0, calls
    _assert_each_has_its_own(yuki, docs, state)


async def test_confusable_documents_each_get_their_own_number(yuki: Yuki) -> None:
    """Same amount, same date, same customer: only the Reference and the marker tell them
    apart, and the list answers them sorted by date and reference, not in our order."""
    docs = [document(yuki.integration, number) for number in ("CF-B", "CF-A", "CF-C")]

    await yuki.sync(*docs)

    assert yuki.failed() == {}
    state = await yuki.state()
    assert len({(d["date"], d["gross"], d["contact"]["id"]) for d in state["documents"]}) == 1
    assert state["calls"].get("CheckOutstandingItemAdmin", 0) == 0, state["calls"]
    _assert_each_has_its_own(yuki, docs, state)


async def test_a_lost_import_answer_is_adopted_from_one_read(yuki: Yuki) -> None:
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
    docs = [document(yuki.integration, f"LOST-{n}") for n in range(20)]  # all alike

    await yuki.sync(*docs)

    assert yuki.failed() == {}
    assert all(b["adopted"] for b in yuki.booked().values())
    state = await yuki.state()
    calls = state["calls"]
    assert calls["ProcessSalesInvoices"] == 1, calls  # the lost one, never pushed again
    assert calls.get("CheckOutstandingItemAdmin", 0) == 0, calls
    assert calls["OutstandingDebtorItemsByDate"] <= READS_PER_BATCH, calls
    _assert_each_has_its_own(yuki, docs, state)


async def test_a_document_the_list_does_not_show_is_looked_up_on_its_own(yuki: Yuki) -> None:
    """A zero invoice leaves nothing open, so the open items do not list it: it alone is
    looked up by its reference."""
    listed = document(yuki.integration, "Z-1")
    settled = document(yuki.integration, "Z-0", price="0.00")

    await yuki.sync(listed, settled)

    assert yuki.failed() == {}
    state = await yuki.state()
    assert state["calls"].get("CheckOutstandingItemAdmin", 0) == 1, state["calls"]
    _assert_each_has_its_own(yuki, [listed, settled], state)
