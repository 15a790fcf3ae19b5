"""The comparison itself: our documents of a period against the entries the accounting
system holds, as a report with a repair plan. Pure: no database, no clock, so every rule
is tested on its own (tests/unit/api/test_reconciliation_compare.py).

Which entry is which document, in this order: the remote id our sync state recorded; the
document id (our marker) or our number as reference on an entry we do not know
(``unknown_in_accounting``; a reference read from a free field counts only when it is one
of our numbers, as anything may be typed there); for documents still unmatched, an entry
without reference of ours of the same kind, amount and date (and customer, where both
say one) (``typed_by_hand``).
What is left of ours is ``missing_in_accounting``; what is left of theirs is not ours
(counted only). Matched pairs are compared field by field (``mismatched``) and on payment
(``payment_differences``); the entries' numbers are checked for duplicates and gaps.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from invoicesync_api.i18n import repair_reasons as reasons
from invoicesync_api.i18n.catalog import render
from invoicesync_shared.events.reconciliations import RemoteEntry

ZERO = Decimal("0.00")
# The longest run of missing numbers listed one by one; a longer gap is given as a range.
GAP_LISTED = 20
_NUMBERED = re.compile(r"^(.*?)(\d+)$")


@dataclass(frozen=True)
class OurDocument:
    """A booked document of the period that this integration takes part in."""

    id: uuid.UUID
    number: str
    kind: str
    issue_date: date
    customer: str
    net: Decimal
    vat: dict[str, Decimal]
    gross: Decimal
    sync_status: str
    remote_id: str | None = None
    booking_number: str | None = None
    payment_status: str | None = None


@dataclass
class _Report:
    missing: list[dict[str, Any]] = field(default_factory=list)
    unknown: list[dict[str, Any]] = field(default_factory=list)
    by_hand: list[dict[str, Any]] = field(default_factory=list)
    mismatched: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    plan: list[dict[str, Any]] = field(default_factory=list)
    # remote id → our document, for every entry that is one of ours
    ours_of: dict[str, OurDocument] = field(default_factory=dict)
    not_ours: list[RemoteEntry] = field(default_factory=list)

    def act(self, action: str, safe: bool, reason: str, **about: Any) -> None:
        self.plan.append({"action": action, "safe": safe, "reason": reason, **about})


def compare(ours: Iterable[OurDocument], theirs: Iterable[RemoteEntry]) -> dict[str, Any]:
    """The report (JSON-ready) of ``ours`` against ``theirs``."""
    documents, entries = list(ours), list(theirs)
    report = _Report()
    by_remote = {d.remote_id: d for d in documents if d.remote_id}
    by_id = {d.id: d for d in documents}
    by_number = {(d.kind, d.number): d for d in documents}
    seen: set[uuid.UUID] = set()
    without_reference: list[RemoteEntry] = []
    for entry in entries:
        known = by_remote.get(entry.remote_id)
        if known is not None:
            seen.add(known.id)
            report.ours_of[entry.remote_id] = known
            _compare_pair(report, known, entry)
            continue
        if entry.status == "voided":
            report.not_ours.append(entry)  # cancelled there, and not one we booked
            continue
        named = by_id.get(entry.document_id) if entry.document_id else None
        named = named or (by_number.get((entry.kind, entry.reference)) if entry.reference else None)
        ours_by_wording = entry.reference is not None and not entry.free_reference
        if named is not None or ours_by_wording or entry.document_id:
            _unknown(report, entry, named)
            if named is not None:
                seen.add(named.id)
                report.ours_of[entry.remote_id] = named
            continue
        without_reference.append(entry)
    _by_hand_or_missing(report, [d for d in documents if d.id not in seen], without_reference)
    duplicates = _duplicates(report, documents, entries)
    gaps, other_gaps = _gaps(entries, documents)
    missing = {m["id"] for m in report.missing}
    for gap in gaps:
        held = {"first": gap["from"], "last": gap["to"]}
        if all(d["id"] in missing for d in gap["documents"]):
            names = ", ".join(d["number"] for d in gap["documents"])
            why = render("en", reasons.NUMBERS_DELETED, {**held, "documents": names})
        else:
            why = render("en", reasons.NUMBERS_MISSING, held)
        report.act(
            "flag_for_person",
            False,
            why,
            id=gap["id"],
            number=gap["number"],
            gap={k: gap[k] for k in ("from", "to", "count", "numbers")},
        )
    lists = {
        "missing_in_accounting": report.missing,
        "unknown_in_accounting": report.unknown,
        "typed_by_hand": report.by_hand,
        "mismatched": report.mismatched,
        "number_gaps": gaps,
        "duplicate_numbers": duplicates,
        "payment_differences": report.payments,
    }
    mine = [e for e in entries if e.remote_id in report.ours_of]
    return {
        "counts": {
            "ours": len(documents),
            "theirs": len(mine),
            "matched": sum(1 for e in mine if by_remote.get(e.remote_id) is not None),
            "not_ours": len(report.not_ours),
            "differences": sum(len(v) for v in lists.values()),
        },
        "totals": {
            "ours": _our_totals(documents),
            "theirs": _their_totals(mine),
            "not_ours": {
                "entries": len(report.not_ours),
                "gross": _money(sum((_signed(e.kind, e.gross) for e in report.not_ours), ZERO)),
            },
        },
        **lists,
        "number_gaps_not_ours": other_gaps,
        # Gaps and numbers on two entries can be seen only where the system's read gives
        # entries their numbers (Yuki's item queries give none; a Lexware draft has none
        # yet): false says no entry of ours read had one, so they could not be seen.
        "numbers_checked": any(e.number for e in mine),
        "repair_plan": report.plan,
    }


def has_differences(report: dict[str, Any]) -> bool:
    return bool(report["counts"]["differences"])


def _doc(document: OurDocument | None) -> dict[str, Any]:
    """How an item names our document."""
    if document is None:
        return {"id": None, "number": None}
    return {"id": str(document.id), "number": document.number}


def _entry(entry: RemoteEntry) -> dict[str, Any]:
    return {
        "remote_id": entry.remote_id,
        "entry_number": entry.number,
        "date": entry.date.isoformat() if entry.date else None,
        "customer": entry.customer,
        "gross": _money(entry.gross),
    }


def _compare_pair(report: _Report, ours: OurDocument, entry: RemoteEntry) -> None:
    differences: list[dict[str, Any]] = []

    def differ(name: str, mine: Any, theirs: Any) -> None:
        differences.append({"field": name, "ours": mine, "theirs": theirs})

    if abs(ours.gross) != abs(entry.gross):
        differ("gross", _money(ours.gross), _money(entry.gross))
    if entry.net is not None and abs(ours.net) != abs(entry.net):
        differ("net", _money(ours.net), _money(entry.net))
    if entry.vat is not None and _abs_rates(ours.vat) != _abs_rates(entry.vat):
        differ("vat", _rates(ours.vat), _rates(entry.vat))
    if entry.date is not None and entry.date != ours.issue_date:
        differ("date", ours.issue_date.isoformat(), entry.date.isoformat())
    if entry.customer and _name(entry.customer) != _name(ours.customer):
        differ("customer", ours.customer, entry.customer)
    if entry.status == "voided":
        differ("status", "booked", "voided")
    if differences:
        report.mismatched.append({**_doc(ours), **_entry(entry), "differences": differences})
        fields = ", ".join(d["field"] for d in differences)
        report.act(
            "flag_for_person",
            False,
            render("en", reasons.DIFFERS, {"fields": fields}),
            **_doc(ours),
            remote_id=entry.remote_id,
        )
    if entry.paid is not None and entry.paid != (ours.payment_status == "paid"):
        theirs = "paid" if entry.paid else "open"
        report.payments.append(
            {**_doc(ours), **_entry(entry), "ours": ours.payment_status or "open", "theirs": theirs}
        )
        report.act(
            "refresh",
            True,
            render("en", reasons.SAYS, {"theirs": theirs}),
            **_doc(ours),
            remote_id=entry.remote_id,
        )


def _unknown(report: _Report, entry: RemoteEntry, named: OurDocument | None) -> None:
    report.unknown.append(
        {**_doc(named), **_entry(entry), "reference": entry.reference or (named and named.number)}
    )
    if named is not None and named.remote_id is None:
        report.act(
            "adopt",
            True,
            render("en", reasons.NEVER_LINKED),
            **_doc(named),
            remote_id=entry.remote_id,
        )
    else:
        why = (
            render("en", reasons.A_DOUBLE) if named is not None else render("en", reasons.NOT_OURS)
        )
        report.act("flag_for_person", False, why, **_doc(named), remote_id=entry.remote_id)


def _by_hand_or_missing(
    report: _Report, unmatched: list[OurDocument], candidates: list[RemoteEntry]
) -> None:
    left = list(candidates)
    for document in unmatched:
        found = next((e for e in left if _looks_like(document, e)), None)
        if found is None:
            report.missing.append(
                {
                    **_doc(document),
                    "date": document.issue_date.isoformat(),
                    "gross": _money(document.gross),
                    "sync_status": document.sync_status,
                    "remote_id": document.remote_id,
                }
            )
            report.act(
                "push_again",
                True,
                render("en", reasons.NO_ENTRY),
                **_doc(document),
            )
            continue
        left.remove(found)
        report.ours_of[found.remote_id] = document
        report.by_hand.append({**_doc(document), **_entry(found)})
        report.act(
            "adopt",
            False,
            render("en", reasons.TYPED_BY_HAND),
            **_doc(document),
            remote_id=found.remote_id,
        )
    report.not_ours.extend(left)


def _looks_like(document: OurDocument, entry: RemoteEntry) -> bool:
    if entry.kind != document.kind or abs(entry.gross) != abs(document.gross):
        return False
    if entry.date != document.issue_date:
        return False
    return not entry.customer or _name(entry.customer) == _name(document.customer)


def _duplicates(
    report: _Report, documents: list[OurDocument], entries: list[RemoteEntry]
) -> list[dict[str, Any]]:
    """A number on two entries there, or given to two of our documents (Exact hands a
    deleted entry's number out again): each item names the entries and our documents."""
    there: dict[str, list[RemoteEntry]] = defaultdict(list)
    for entry in entries:
        if entry.number:
            there[entry.number].append(entry)
    here: dict[str, list[OurDocument]] = defaultdict(list)
    for document in documents:
        if document.booking_number:
            here[document.booking_number].append(document)
    found = []
    for number in sorted(set(there) | set(here)):
        same, mine = there.get(number, []), here.get(number, [])
        if len(same) < 2 and len(mine) < 2:
            continue
        items = [{**_doc(report.ours_of.get(e.remote_id)), **_entry(e)} for e in same]
        named = {e.remote_id for e in same}
        items += [
            {**_doc(d), "remote_id": d.remote_id, "entry_number": None}
            for d in mine
            if d.remote_id not in named
        ]
        found.append({"number": number, "entries": items})
        report.act(
            "run_duplicate_number_repair",
            False,
            render(
                "en",
                reasons.DUPLICATE_NUMBER,
                {"number": number, "count": max(len(same), len(mine))},
            ),
            number=number,
        )
    return found


def _gaps(
    entries: list[RemoteEntry], documents: list[OurDocument]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Runs of numbers missing between the lowest and the highest of each numbering
    (same prefix and width); gaps before the first and after the last are not seen.
    A run is a difference when one of its numbers is one our documents were booked
    under (each named); the others are the system's or a person's own (an entry not
    ours deleted, or one of ours deleted and booked again under a new number): listed
    apart, as entries not ours are counted apart."""
    held = {d.booking_number: d for d in documents if d.booking_number}
    series: dict[tuple[str, int], set[int]] = defaultdict(set)
    for entry in entries:
        matched = _NUMBERED.match(entry.number or "")
        if matched:
            prefix, digits = matched.groups()
            series[(prefix, len(digits))].add(int(digits))
    ours, others = [], []
    for (prefix, width), numbers in sorted(series.items()):
        ordered = sorted(numbers)
        for low, high in itertools.pairwise(ordered):
            if high - low > 1:
                missing = [f"{prefix}{n:0{width}d}" for n in range(low + 1, high)]
                gap = {
                    "from": missing[0],
                    "to": missing[-1],
                    "count": len(missing),
                    "numbers": missing[:GAP_LISTED],
                }
                mine = [held[n] for n in missing if n in held]
                if not mine:
                    others.append(gap)
                    continue
                named = _doc(mine[0]) if len(mine) == 1 else _doc(None)
                ours.append({**named, **gap, "documents": [_doc(d) for d in mine]})
    return ours, others


def _our_totals(documents: list[OurDocument]) -> dict[str, Any]:
    vat: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for d in documents:
        for rate, amount in d.vat.items():
            vat[_rate(rate)] += _signed(d.kind, amount)
    return {
        "net": _money(sum((_signed(d.kind, d.net) for d in documents), ZERO)),
        "vat": _rates(vat),
        "gross": _money(sum((_signed(d.kind, d.gross) for d in documents), ZERO)),
    }


def _their_totals(entries: list[RemoteEntry]) -> dict[str, Any]:
    """Gross of every entry; net and VAT per rate of those the system gave them for
    (``entries_with_detail``: all of them only when the reconciliation was detailed or
    the system's list carries them)."""
    detailed = [e for e in entries if e.net is not None and e.vat is not None]
    vat: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for e in detailed:
        for rate, amount in (e.vat or {}).items():
            vat[_rate(rate)] += _signed(e.kind, amount)
    return {
        "net": _money(sum((_signed(e.kind, e.net or ZERO) for e in detailed), ZERO)),
        "vat": _rates(vat),
        "gross": _money(sum((_signed(e.kind, e.gross) for e in entries), ZERO)),
        "entries_with_detail": len(detailed),
    }


def _signed(kind: str, amount: Decimal) -> Decimal:
    """A credit note counts against the totals, whichever sign the system gives it."""
    return -abs(amount) if kind == "credit_note" else amount


def _abs_rates(rates: dict[str, Decimal]) -> dict[str, Decimal]:
    return {_rate(r): abs(a) for r, a in rates.items() if a}


def _rates(rates: dict[str, Decimal]) -> dict[str, str]:
    return {_rate(r): _money(a) for r, a in sorted(rates.items(), key=lambda i: Decimal(i[0]))}


def _rate(rate: str) -> str:
    return format(Decimal(rate).normalize(), "f")


def _money(amount: Decimal) -> str:
    return format(amount.quantize(Decimal("0.01")), "f")


def _name(text: str) -> str:
    return " ".join(text.split()).casefold()
