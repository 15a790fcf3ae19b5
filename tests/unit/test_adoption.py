"""The adoption rule and the marker, on their own: which candidate found by our reference
is adopted, which makes the outcome ambiguous, and which is not ours."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from invoicesync_shared.connectors.adoption import Candidate, System, adopt
from invoicesync_shared.connectors.errors import AmbiguousMatch
from invoicesync_shared.connectors.protocol import Booking
from invoicesync_shared.connectors.provenance import (
    MARKER_LENGTH,
    document_id_of,
    marker,
    marker_in,
    stamped,
)
from invoicesync_shared.events.documents import CustomerData, DocumentLine, DocumentSnapshot

SYSTEM = System("Exact Online", "description")
DAY = date(2026, 11, 20)


def _document() -> DocumentSnapshot:
    line = DocumentLine(
        description="Work",
        quantity=Decimal(1),
        unit_price=Decimal("100.00"),
        vat_rate=Decimal(21),
        net_amount=Decimal("100.00"),
        vat_amount=Decimal("21.00"),
    )
    return DocumentSnapshot(
        id=uuid.uuid4(),
        partner_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        kind="invoice",
        external_id="ext-1",
        number="INV-1",
        issue_date=DAY,
        currency="EUR",
        customer=CustomerData(external_id="c-1", name="Acme", country="NL"),
        lines=[line],
        net_total=Decimal("100.00"),
        vat_total=Decimal("21.00"),
        gross_total=Decimal("121.00"),
    )


def _candidate(document: DocumentSnapshot, number: str, **changes: object) -> Candidate:
    found = Candidate(
        remote_id=f"id-{number}",
        booking_number=number,
        label=f"entry {number}",
        marker=marker(document.id),
        date=DAY,
        total=Decimal("121.00"),
        customer="cust",
    )
    return replace(found, **changes)  # type: ignore[arg-type]


def test_the_marker_is_short_reversible_and_found_in_text() -> None:
    document_id = uuid.uuid4()
    mark = marker(document_id)
    assert len(mark) == MARKER_LENGTH <= 32
    assert document_id_of(mark) == document_id
    assert marker_in(f"Invoice INV-1 {mark}") == mark
    assert marker_in("Invoice INV-1") is None
    text = stamped("Credit note " + "9" * 40, document_id, 60)
    assert len(text) <= 60 and text.endswith(mark) and text.startswith("Credit note 99")


def test_the_one_marked_candidate_that_agrees_is_adopted_beside_others() -> None:
    document = _document()
    ours = _candidate(document, "3")
    last_year = _candidate(document, "1", marker=None, date=date(2025, 11, 20))
    other_document = _candidate(document, "2", marker=marker(uuid.uuid4()))
    found = adopt([last_year, other_document, ours], document, system=SYSTEM, customer="cust")
    assert found == Booking("id-3", "3")


def test_only_candidates_that_clearly_differ_or_are_another_documents_mean_not_found() -> None:
    document = _document()
    candidates = [
        _candidate(document, "1", marker=None, total=Decimal("-121.00")),  # a credit note
        _candidate(document, "2", marker=None, customer="someone else"),
        _candidate(document, "3", marker=marker(uuid.uuid4())),  # pushed for another one
    ]
    assert adopt(candidates, document, system=SYSTEM, customer="cust") is None
    assert adopt([], document, system=SYSTEM, customer=None) is None


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"marker": None}, "without invoicesync's marker"),
        ({"total": Decimal("99.00")}, "total 99.00 (ours 121.00)"),
        ({"date": date(2026, 1, 2)}, "date 2026-01-02 (ours 2026-11-20)"),
        ({"customer": "someone else"}, "another customer"),
    ],
)
def test_a_lookalike_or_a_changed_entry_is_ambiguous(changes: dict[str, object], said: str) -> None:
    document = _document()
    with pytest.raises(AmbiguousMatch) as raised:
        adopt([_candidate(document, "7", **changes)], document, system=SYSTEM, customer="cust")
    assert raised.value.code == "ambiguous_match"
    assert said in raised.value.message and "entry 7" in raised.value.message


def test_an_unknown_field_is_no_difference() -> None:
    document = _document()
    vague = _candidate(document, "4", date=None, total=None, customer=None)
    assert adopt([vague], document, system=SYSTEM, customer=None) == Booking("id-4", "4")
    with pytest.raises(AmbiguousMatch):  # unmarked and nothing differs: maybe ours
        adopt([replace(vague, marker=None)], document, system=SYSTEM, customer="cust")


def test_several_marked_candidates_are_ambiguous() -> None:
    document = _document()
    with pytest.raises(AmbiguousMatch) as raised:
        adopt(
            [_candidate(document, "5"), _candidate(document, "6")],
            document,
            system=SYSTEM,
            customer="cust",
        )
    assert "2 entries" in raised.value.message and "entry 5, entry 6" in raised.value.message
