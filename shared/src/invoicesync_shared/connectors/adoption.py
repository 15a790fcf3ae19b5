"""Whether a remote entry found by our reference is ours: the one rule every connector
applies after an unknown outcome, before it adopts an entry or pushes again.

An entry is adopted only when it is provably ours: it carries our marker and agrees with
our document on date, gross total and customer. Anything that might be ours but cannot
be proven raises ``AmbiguousMatch``: adopting it could book this document under another
one's number, pushing again could book it twice. Entries that carry another document's
marker, or no marker and clearly differ (last year's invoice of the same number, a credit
note of the same number in a shared journal), are not ours: with none left, nothing is
found and the document is pushed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from invoicesync_shared.connectors.errors import AmbiguousMatch
from invoicesync_shared.connectors.protocol import Booking
from invoicesync_shared.connectors.provenance import marker
from invoicesync_shared.events.documents import DocumentSnapshot

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Candidate:
    """A remote entry carrying our reference, as the lookup read it.

    ``total`` is the gross total signed as in our document (credit notes positive);
    None in a field means the system did not say, which never counts as a difference.
    """

    remote_id: str
    booking_number: str | None
    label: str  # how a bookkeeper finds it in the system, e.g. "entry 2026700012"
    marker: str | None
    date: date | None
    total: Decimal | None
    customer: str | None


@dataclass(frozen=True)
class System:
    """How to speak about the system to a bookkeeper."""

    name: str  # "Exact Online"
    marker_field: str  # where the marker goes, e.g. "description"


def adopt(
    candidates: Sequence[Candidate],
    document: DocumentSnapshot,
    *,
    system: System,
    customer: str | None,
) -> Booking | None:
    """The entry to adopt, None when none of ``candidates`` can be ours (push it), or
    ``AmbiguousMatch``. ``customer`` is our customer's remote id when known."""
    ours = marker(document.id)
    marked = [c for c in candidates if c.marker == ours]
    if len(marked) > 1:
        raise AmbiguousMatch(_several(marked, document, system, ours))
    if marked:
        [candidate] = marked
        differences = _differences(candidate, document, customer)
        if differences:
            raise AmbiguousMatch(_changed(candidate, differences, document, system))
        return Booking(candidate.remote_id, candidate.booking_number)
    lookalikes = [
        c for c in candidates if c.marker is None and not _differences(c, document, customer)
    ]
    if lookalikes:
        raise AmbiguousMatch(_unmarked(lookalikes, document, system, ours))
    return None


def _differences(
    candidate: Candidate, document: DocumentSnapshot, customer: str | None
) -> list[str]:
    found = []
    if candidate.date is not None and candidate.date != document.issue_date:
        found.append(f"date {candidate.date.isoformat()} (ours {document.issue_date.isoformat()})")
    if candidate.total is not None and abs(candidate.total - document.gross_total) >= CENT:
        found.append(f"total {candidate.total:.2f} (ours {document.gross_total:.2f})")
    if candidate.customer is not None and customer is not None and candidate.customer != customer:
        found.append("another customer")
    return found


def _kind(document: DocumentSnapshot) -> str:
    return "credit note" if document.kind == "credit_note" else "invoice"


def _labels(candidates: Sequence[Candidate]) -> str:
    return ", ".join(c.label for c in candidates)


def _several(
    candidates: Sequence[Candidate], document: DocumentSnapshot, system: System, ours: str
) -> str:
    return (
        f"{system.name} has {len(candidates)} entries carrying the marker {ours} of "
        f"{_kind(document)} {document.number}: {_labels(candidates)}. Keep the one that is "
        "this document, delete the copies, then retry."
    )


def _changed(
    candidate: Candidate, differences: list[str], document: DocumentSnapshot, system: System
) -> str:
    return (
        f"{system.name} {candidate.label} carries the marker of {_kind(document)} "
        f"{document.number}, but its {', '.join(differences)}. Check {candidate.label} in "
        f"{system.name}: correct it (or delete it to have the document sent again), then retry."
    )


def _unmarked(
    candidates: Sequence[Candidate], document: DocumentSnapshot, system: System, ours: str
) -> str:
    kind = _kind(document)
    return (
        f"{system.name} has {_labels(candidates)} with reference {document.number} and the "
        f"same date, total and customer as {kind} {document.number}, but without "
        f"invoicesync's marker (typed by hand?), so it cannot be told apart from this {kind}. "
        f"Check in {system.name}: if it is this {kind}, add {ours} to its "
        f"{system.marker_field} and retry (it is then taken as booked); if it is not, give it "
        f"another reference and retry (the {kind} is then sent)."
    )
