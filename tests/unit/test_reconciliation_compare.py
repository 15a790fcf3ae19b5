"""The reconciliation's comparison rules, one by one, on documents and entries made here
(the e2e test runs them against the Lexware sandbox; gaps and duplicate numbers, which
Lexware's own numbering cannot produce, are proven here)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from invoicesync_api.reconciliations.compare import OurDocument, compare, has_differences
from invoicesync_shared.events.reconciliations import RemoteEntry

DAY = date(2026, 11, 20)


def ours(number: str, **changes: Any) -> OurDocument:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "number": number,
        "kind": "invoice",
        "issue_date": DAY,
        "customer": "Jansen B.V.",
        "net": Decimal("100.00"),
        "vat": {"21": Decimal("21.00")},
        "gross": Decimal("121.00"),
        "sync_status": "booked",
        "remote_id": f"r-{number}",
        "booking_number": f"2670000{number[-1]}",
        "payment_status": None,
    }
    return OurDocument(**{**values, **changes})


def entry(remote_id: str, number: str | None, **changes: Any) -> RemoteEntry:
    values: dict[str, Any] = {
        "remote_id": remote_id,
        "number": number,
        "date": DAY,
        "customer": "Jansen B.V.",
        "gross": Decimal("121.00"),
        "paid": False,
    }
    return RemoteEntry(**{**values, **changes})


def test_the_same_books_have_no_difference() -> None:
    docs = [ours("A-1"), ours("A-2")]
    report = compare(docs, [entry("r-A-1", "26700001"), entry("r-A-2", "26700002")])
    assert not has_differences(report)
    assert report["counts"] == {
        "ours": 2,
        "theirs": 2,
        "matched": 2,
        "not_ours": 0,
        "differences": 0,
    }
    assert report["repair_plan"] == []


def test_each_field_that_differs_is_named_with_both_values() -> None:
    doc = ours("A-1")
    theirs = entry(
        "r-A-1",
        "26700001",
        gross=Decimal("130.00"),
        net=Decimal("109.00"),
        vat={"21": Decimal("21.00")},
        date=date(2026, 11, 21),
        customer="Someone Else",
    )
    (item,) = compare([doc], [theirs])["mismatched"]
    assert (item["id"], item["number"]) == (str(doc.id), "A-1")
    assert item["differences"] == [
        {"field": "gross", "ours": "121.00", "theirs": "130.00"},
        {"field": "net", "ours": "100.00", "theirs": "109.00"},
        {"field": "date", "ours": "2026-11-20", "theirs": "2026-11-21"},
        {"field": "customer", "ours": "Jansen B.V.", "theirs": "Someone Else"},
    ]


def test_vat_per_rate_is_compared_where_the_entry_has_it() -> None:
    doc = ours("A-1")
    theirs = entry("r-A-1", "1", net=Decimal("100.00"), vat={"9": Decimal("21.00")})
    (item,) = compare([doc], [theirs])["mismatched"]
    assert item["differences"] == [
        {"field": "vat", "ours": {"21": "21.00"}, "theirs": {"9": "21.00"}}
    ]


def test_duplicate_numbers_name_each_entry_and_our_document() -> None:
    first, second = ours("A-1"), ours("A-2")
    report = compare([first, second], [entry("r-A-1", "26700005"), entry("r-A-2", "26700005")])
    (duplicate,) = report["duplicate_numbers"]
    assert duplicate["number"] == "26700005"
    assert [(e["id"], e["number"], e["remote_id"]) for e in duplicate["entries"]] == [
        (str(first.id), "A-1", "r-A-1"),
        (str(second.id), "A-2", "r-A-2"),
    ]
    assert [a["action"] for a in report["repair_plan"]] == ["run_duplicate_number_repair"]


def test_gaps_are_runs_missing_inside_one_numbering() -> None:
    docs = [ours("A-1"), ours("A-2"), ours("A-3", booking_number="RE0003")]
    entries = [entry("r-A-1", "RE0001"), entry("r-A-2", "RE0004"), entry("r-A-3", "GS0007")]
    (gap,) = compare(docs, entries)["number_gaps"]
    assert gap == {
        "id": str(docs[2].id),
        "number": "A-3",
        "from": "RE0002",
        "to": "RE0003",
        "count": 2,
        "numbers": ["RE0002", "RE0003"],
        "documents": [{"id": str(docs[2].id), "number": "A-3"}],
    }


def test_numbers_are_checked_only_when_an_entry_of_ours_carries_one() -> None:
    docs = [ours("A-1"), ours("A-2")]
    unnumbered = [entry("r-A-1", None), entry("r-A-2", None)]
    assert compare(docs, unnumbered)["numbers_checked"] is False
    one = [entry("r-A-1", "26700001"), entry("r-A-2", None)]  # a draft has none yet
    assert compare(docs, one)["numbers_checked"] is True


def test_a_gap_no_document_of_ours_was_booked_under_is_listed_apart() -> None:
    docs = [ours("A-1"), ours("A-2")]
    report = compare(docs, [entry("r-A-1", "RE0001"), entry("r-A-2", "RE0004")])
    assert report["number_gaps"] == [] and not has_differences(report)
    assert report["number_gaps_not_ours"] == [
        {"from": "RE0002", "to": "RE0003", "count": 2, "numbers": ["RE0002", "RE0003"]}
    ]
    assert report["repair_plan"] == []


def test_the_number_of_a_deleted_entry_of_ours_is_a_gap_naming_the_document() -> None:
    docs = [ours("A-1"), ours("A-2"), ours("A-3")]  # booked as 26700001..26700003
    report = compare(docs, [entry("r-A-1", "26700001"), entry("r-A-3", "26700003")])
    (gap,) = report["number_gaps"]
    assert (gap["id"], gap["number"], gap["numbers"]) == (str(docs[1].id), "A-2", ["26700002"])
    assert [m["number"] for m in report["missing_in_accounting"]] == ["A-2"]
    assert [(a["action"], a["id"], a["safe"]) for a in report["repair_plan"]] == [
        ("push_again", str(docs[1].id), True),
        ("flag_for_person", str(docs[1].id), False),
    ]
    assert report["repair_plan"][1]["reason"] == (
        "Numbers 26700002 to 26700002 were those of A-2, whose entries are gone from the "
        "accounting system: apply sends them again under new numbers; these stay unused there."
    )


def test_an_entry_with_our_reference_we_do_not_know_is_adopted_or_flagged() -> None:
    never_linked = ours("A-1", remote_id=None, sync_status="failed")
    report = compare(
        [never_linked],
        [entry("x-1", "1", reference="A-1"), entry("x-2", "2", reference="A-9")],
    )
    adopt, stranger = report["unknown_in_accounting"]
    assert (adopt["id"], adopt["number"], adopt["remote_id"]) == (
        str(never_linked.id),
        "A-1",
        "x-1",
    )
    assert (stranger["id"], stranger["reference"]) == (None, "A-9")
    assert [(a["action"], a["safe"]) for a in report["repair_plan"]] == [
        ("adopt", True),
        ("flag_for_person", False),
    ]
    assert report["missing_in_accounting"] == []


def test_a_free_reference_is_ours_only_when_it_is_one_of_our_numbers() -> None:
    """Exact's YourRef and Yuki's Reference take anything a person types (a customer's
    order number, Yuki's own number): such an entry is a look-alike or not ours, while
    one of our numbers there still makes it a double."""
    missing, linked = ours("A-1", remote_id="gone"), ours("A-2")
    report = compare(
        [missing, linked],
        [
            entry("r-A-2", "2"),
            entry("h-1", "7", reference="PO 4471", free_reference=True),
            entry("h-2", "8", reference="000123", free_reference=True, customer="Bakker"),
            entry("h-3", "9", reference="A-2", free_reference=True),
        ],
    )
    assert [(t["id"], t["remote_id"]) for t in report["typed_by_hand"]] == [
        (str(missing.id), "h-1")
    ]
    assert [(u["id"], u["remote_id"]) for u in report["unknown_in_accounting"]] == [
        (str(linked.id), "h-3")
    ]
    assert report["counts"]["not_ours"] == 1
    assert report["missing_in_accounting"] == []


def test_a_look_alike_typed_by_hand_needs_the_same_customer() -> None:
    missing = ours("A-1", remote_id="gone")
    other_customer = entry("h-1", "7", customer="Bakker")
    report = compare([missing], [other_customer])
    assert [m["id"] for m in report["missing_in_accounting"]] == [str(missing.id)]
    assert report["counts"]["not_ours"] == 1
    report = compare([missing], [entry("h-2", "8")])
    assert [(t["id"], t["remote_id"]) for t in report["typed_by_hand"]] == [
        (str(missing.id), "h-2")
    ]
    assert report["missing_in_accounting"] == []


def test_a_voided_entry_is_no_look_alike_and_no_double() -> None:
    missing = ours("A-1", remote_id="gone")
    report = compare(
        [missing],
        [entry("h-1", "7", status="voided"), entry("h-2", "8", status="voided", reference="A-1")],
    )
    assert [m["id"] for m in report["missing_in_accounting"]] == [str(missing.id)]
    assert report["typed_by_hand"] == [] and report["unknown_in_accounting"] == []


def test_payment_differences_both_ways_are_read_back() -> None:
    paid_there, paid_here = ours("A-1"), ours("A-2", payment_status="paid")
    report = compare(
        [paid_there, paid_here], [entry("r-A-1", "1", paid=True), entry("r-A-2", "2", paid=False)]
    )
    assert [(p["number"], p["ours"], p["theirs"]) for p in report["payment_differences"]] == [
        ("A-1", "open", "paid"),
        ("A-2", "paid", "open"),
    ]
    assert {(a["action"], a["safe"]) for a in report["repair_plan"]} == {("refresh", True)}


def test_credit_notes_count_against_the_totals_whatever_their_sign_there() -> None:
    invoice = ours("A-1")
    credit = ours(
        "C-1",
        kind="credit_note",
        booking_number="26700002",
        net=Decimal("50.00"),
        vat={"21": Decimal("10.50")},
        gross=Decimal("60.50"),
    )
    theirs = [
        entry("r-A-1", "1", net=Decimal("100.00"), vat={"21.0": Decimal("21.00")}),
        entry(
            "r-C-1",
            "2",
            kind="credit_note",
            gross=Decimal("-60.50"),
            net=Decimal("-50.00"),
            vat={"21": Decimal("-10.50")},
        ),
    ]
    report = compare([invoice, credit], theirs)
    assert not has_differences(report), report
    assert report["totals"]["ours"] == {"net": "50.00", "vat": {"21": "10.50"}, "gross": "60.50"}
    assert report["totals"]["theirs"] == {
        "net": "50.00",
        "vat": {"21": "10.50"},
        "gross": "60.50",
        "entries_with_detail": 2,
    }


def test_a_number_handed_out_again_is_a_duplicate_of_our_two_documents() -> None:
    """Exact gave a deleted entry's number to the next document: the entry of the first
    is gone (missing), and both of ours claim the number."""
    first = ours("A-1", remote_id="gone", booking_number="26700003")
    second = ours("A-2", remote_id="r-A-2", booking_number="26700003")
    report = compare([first, second], [entry("r-A-2", "26700003")])
    assert [m["id"] for m in report["missing_in_accounting"]] == [str(first.id)]
    (duplicate,) = report["duplicate_numbers"]
    assert [(e["id"], e["remote_id"]) for e in duplicate["entries"]] == [
        (str(second.id), "r-A-2"),
        (str(first.id), "gone"),
    ]
