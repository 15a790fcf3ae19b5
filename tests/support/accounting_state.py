"""Exactly-once checks from both sides: the sandbox's own books (entries, vouchers,
documents, customers) against our documents, their sync states and the webhooks a partner
received. Entries the bookkeeper typed (``foreign``: their remote ids) are never ours:
a document pointing at one was adopted wrongly."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

DONE = {"booked", "sent"}
UNSETTLED = {"pending", "sending", "ambiguous"}
IN_FLIGHT = {"pending", "sending"}
# A document that cannot be told from a look-alike in the books waits for the bookkeeper:
# an end state, as long as it says why and nothing of it was adopted or pushed twice.
FOR_THE_BOOKKEEPER = "ambiguous_match"
KINDS = ("invoices", "credit-notes")
EXACT_TYPES = {"invoice": 20, "credit_note": 21}  # sales entry, sales credit note


@dataclass
class Findings:
    """What a chaos run must end with: every list empty, every count zero."""

    documents: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    # A booked document whose remote entry is not its own: a bookkeeper's, or one whose
    # date, gross total or customer differ from the document's.
    wrong_adoptions: list[str] = field(default_factory=list)
    double_bookings: list[str] = field(default_factory=list)  # our document in the books twice
    lost: list[str] = field(default_factory=list)  # ours says done, the books lack it
    unsettled: list[str] = field(default_factory=list)  # never reached an end state
    duplicate_booking_numbers: list[str] = field(default_factory=list)
    duplicate_customers: list[str] = field(default_factory=list)
    failures_without_reason: list[str] = field(default_factory=list)
    # The same outcome of one document announced by more than one webhook message.
    duplicate_webhooks: list[str] = field(default_factory=list)
    # A document announced booked/sent, later announced failed, or no longer done.
    flipped: list[str] = field(default_factory=list)
    missing_webhooks: list[str] = field(default_factory=list)  # done, never announced
    bookkeeper_entries_gone: list[str] = field(default_factory=list)  # overwritten or deleted

    def add_ours(self, documents: Iterable[dict[str, Any]]) -> None:
        for document in documents:
            self.documents += 1
            for state in document["sync"]:
                self.by_status[state["status"]] += 1
                label = f"{document['number']} ({state['system']})"
                error = state.get("error") or {}
                if state["status"] in UNSETTLED and error.get("code") != FOR_THE_BOOKKEEPER:
                    why = state.get("waiting_reason") or error.get("code") or "no reason"
                    self.unsettled.append(f"{label}: {state['status']} ({why})")
                if state["status"] == "failed" and not (error.get("code") and error.get("message")):
                    self.failures_without_reason.append(label)

    def add_webhooks(self, events: list[dict[str, Any]], documents: list[dict[str, Any]]) -> None:
        """``events``: the distinct messages received (one per webhook-id), each with the
        ``webhook_id`` added."""
        outcomes: Counter[tuple[Any, ...]] = Counter()
        history: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for event in sorted(events, key=lambda e: str(e["timestamp"])):
            if not str(event["type"]).startswith("document."):
                continue  # an integration's status: no document's outcome
            data = event["data"]
            error = data.get("error") or {}
            outcome = (
                data["document_id"],
                data["integration_id"],
                event["type"],
                data["status"],
                data.get("remote_id"),
                error.get("code"),
            )
            outcomes[outcome] += 1
            history[(data["document_id"], data["integration_id"])].append(data)
        self.duplicate_webhooks += [
            f"{o[0]} {o[2]} {o[3]} x{n}: {_story(history[(o[0], o[1])])}"
            for o, n in outcomes.items()
            if n > 1
        ]
        for (document_id, _), seen in history.items():
            statuses = [d["status"] for d in seen]
            first_done = next((i for i, s in enumerate(statuses) if s in DONE), None)
            if first_done is not None and any(s not in DONE for s in statuses[first_done:]):
                self.flipped.append(f"{seen[0]['number']} ({document_id}): {statuses}")
        for document in documents:
            for state in document["sync"]:
                seen = history.get((document["id"], state["integration_id"]), [])
                label = f"{document['number']} ({state['system']})"
                if state["status"] in DONE and state["status"] not in {d["status"] for d in seen}:
                    self.missing_webhooks.append(label)
                if state["status"] not in DONE and any(d["status"] in DONE for d in seen):
                    self.flipped.append(f"{label}: announced done, now {state['status']}")


def _story(seen: list[dict[str, Any]]) -> str:
    """A document's announcements in order, as status/code: what a duplicate repeated."""
    return " > ".join(f"{d['status']}/{(d.get('error') or {}).get('code') or '-'}" for d in seen)


def list_documents(
    partner: httpx.Client, client_id: str, kinds: Iterable[str] = KINDS
) -> list[dict[str, Any]]:
    """Every document of a client in these collections, following the cursor."""
    found: list[dict[str, Any]] = []
    for kind in kinds:
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"client_id": client_id, "limit": 200}
            if cursor:
                params["cursor"] = cursor
            page = partner.get(f"/v1/{kind}", params=params)
            assert page.status_code == 200, page.text
            found.extend(page.json()["data"])
            cursor = page.json()["next_cursor"]
            if not cursor:
                break
    return found


def _repeated(values: Iterable[str | None]) -> list[str]:
    return sorted(v for v, n in Counter(v for v in values if v).items() if n > 1)


def _done(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each done sync state with what its remote entry must agree with."""
    return [
        {
            "number": d["number"],
            "kind": d["kind"],
            "issue_date": d["issue_date"],
            "gross": Decimal(d["totals"]["gross"]),
            "customer": (d.get("customer") or d["supplier"])["name"],
            **s,
        }
        for d in documents
        for s in d["sync"]
        if s["status"] in DONE
    ]


def _ambiguous(documents: list[dict[str, Any]]) -> set[str]:
    """References of documents left to the bookkeeper: an entry of theirs that committed
    after a lost answer is known to no document, and rightly so."""
    return {
        d["number"].casefold() for d in documents for s in d["sync"] if s["status"] == "ambiguous"
    }


def _disagreement(done: dict[str, Any], day: str, gross: Decimal, customer: str | None) -> str:
    """What of date, gross total (credit notes may be negative) and customer differs."""
    wrong = []
    if day[:10] != done["issue_date"]:
        wrong.append(f"date {day[:10]} != {done['issue_date']}")
    if abs(gross) != abs(done["gross"]):
        wrong.append(f"total {gross} != {done['gross']}")
    if customer is not None and customer != done["customer"]:
        wrong.append(f"customer {customer!r} != {done['customer']!r}")
    return ", ".join(wrong)


def check_exact(
    sandbox: str,
    division: int,
    documents: list[dict[str, Any]],
    findings: Findings,
    foreign: set[str],
) -> None:
    state = httpx.get(f"{sandbox}/_sandbox/exact/divisions/{division}").json()
    accounts = {a["id"]: a["name"] for a in state["accounts"]}
    entries = {e["entry_id"]: e for e in state["entries"]}
    done = _done(documents)
    claimed = Counter(d["remote_id"] for d in done)
    ours = [e for e in entries.values() if e["entry_id"] not in foreign]
    ambiguous = _ambiguous(documents)
    refs = Counter((e["your_ref"], e["type"]) for e in ours)
    findings.double_bookings += [
        f"exact {division}: {ref} (type {t}) x{n}" for (ref, t), n in refs.items() if n > 1
    ]
    findings.double_bookings += [
        f"exact {division}: entry {e['entry_number']} ({e['your_ref']}) is no document's"
        for e in ours
        if e["entry_id"] not in claimed and (e["your_ref"] or "").casefold() not in ambiguous
    ]
    findings.double_bookings += [
        f"exact {division}: entry {r} claimed x{n}" for r, n in claimed.items() if n > 1
    ]
    for d in done:
        entry = entries.get(d["remote_id"])
        label = f"exact {division}: {d['kind']} {d['number']}"
        if entry is None:
            findings.lost.append(label)
        elif entry["entry_id"] in foreign:
            findings.wrong_adoptions.append(f"{label} adopted the bookkeeper's entry")
        elif entry["type"] != EXACT_TYPES[d["kind"]]:
            findings.wrong_adoptions.append(f"{label} adopted an entry of type {entry['type']}")
        elif wrong := _disagreement(
            d, entry["entry_date"], Decimal(entry["amount"]), accounts.get(entry["customer"])
        ):
            findings.wrong_adoptions.append(f"{label}: {wrong}")
    findings.bookkeeper_entries_gone += [
        f"exact {division}: {i}" for i in foreign if i not in entries
    ]
    for journal in {e["journal"] for e in state["entries"]}:
        numbers = [str(e["entry_number"]) for e in state["entries"] if e["journal"] == journal]
        findings.duplicate_booking_numbers += [
            f"exact {division}/{journal}: {n}" for n in _repeated(numbers)
        ]
    findings.duplicate_customers += [
        f"exact {division}: {name}"
        for name in _repeated(a["name"] for a in state["accounts"] if not a["is_supplier"])
    ]


def check_yuki(
    sandbox: str,
    administration: str,
    documents: list[dict[str, Any]],
    findings: Findings,
    foreign: set[str],
) -> None:
    """Yuki keeps one document per reference (a second push updates it); our remote id is
    its DocumentID, or our reference where Yuki answered without one."""
    state = httpx.get(f"{sandbox}/_sandbox/yuki/administrations/{administration}").json()
    by_id = {d["document_id"]: d for d in state["documents"]}
    by_reference = {d["reference"]: d for d in state["documents"]}
    done = _done(documents)
    claimed = Counter(d["remote_id"] for d in done)
    ours = [d for d in state["documents"] if d["document_id"] not in foreign]
    ambiguous = _ambiguous(documents)
    refs = Counter(d["reference"].casefold() for d in ours)
    findings.double_bookings += [f"yuki: {r} x{n}" for r, n in refs.items() if n > 1]
    findings.double_bookings += [
        f"yuki: {d['reference']} is no document's"
        for d in ours
        if d["document_id"] not in claimed
        and d["reference"] not in claimed
        and d["reference"].casefold() not in ambiguous
    ]
    for d in done:
        remote = by_id.get(d["remote_id"]) or by_reference.get(d["remote_id"])
        label = f"yuki {administration}: {d['kind']} {d['number']}"
        if remote is None:
            findings.lost.append(label)
        elif remote["document_id"] in foreign:
            findings.wrong_adoptions.append(
                f"{label} adopted the bookkeeper's {remote['reference']}"
            )
        elif wrong := _disagreement(
            d, remote["date"], Decimal(remote["gross"]), (remote["contact"] or {}).get("name")
        ):
            findings.wrong_adoptions.append(f"{label}: {wrong}")
    findings.bookkeeper_entries_gone += [f"yuki: {i}" for i in foreign if i not in by_id]
    findings.duplicate_booking_numbers += [
        f"yuki {administration}: {n}"
        for n in _repeated(d["booking_number"] for d in state["documents"])
    ]
    findings.duplicate_customers += [
        f"yuki: {name}" for name in _repeated(c["name"] for c in state["contacts"])
    ]


def check_lexware(
    sandbox: str,
    organization: str,
    documents: list[dict[str, Any]],
    findings: Findings,
    foreign: set[str],
) -> None:
    """Every voucher not typed by the bookkeeper must be the remote id of exactly one of
    our documents, and every document we call sent must have its own voucher."""
    state = httpx.get(f"{sandbox}/_sandbox/lexware/organizations/{organization}").json()
    vouchers = {v["id"]: v for v in state["vouchers"]}
    contacts = {c["id"]: (c["company"] or {}).get("name") for c in state["contacts"]}
    done = _done(documents)
    claimed = Counter(d["remote_id"] for d in done)
    findings.double_bookings += [
        f"lexware: voucher {v} is no document's"
        for v in vouchers
        if v not in claimed and v not in foreign
    ]
    findings.double_bookings += [f"lexware: {r} claimed x{n}" for r, n in claimed.items() if n > 1]
    for d in done:
        voucher = vouchers.get(d["remote_id"])
        label = f"lexware {organization}: {d['kind']} {d['number']}"
        if voucher is None:
            findings.lost.append(label)
        elif voucher["id"] in foreign:
            findings.wrong_adoptions.append(f"{label} adopted the bookkeeper's voucher")
        elif wrong := _disagreement(
            d,
            voucher["voucherDate"],
            Decimal(str(voucher["totalGrossAmount"])),
            contacts.get(voucher["contactId"]) if voucher["contactId"] else None,
        ):
            findings.wrong_adoptions.append(f"{label}: {wrong}")
    findings.bookkeeper_entries_gone += [f"lexware: {i}" for i in foreign if i not in vouchers]
    # A purchase voucher's number is its supplier's own, not our series: suppliers' numbers
    # collide (the API, too, compares it only among its supplier's, sync/numbering.py).
    findings.duplicate_booking_numbers += [
        f"lexware {organization}: {n}"
        for n in _repeated(
            v["voucherNumber"]
            for v in state["vouchers"]
            if not v["voucherType"].startswith("purchase")
        )
    ]
    # Per role: a supplier named like a customer is its own vendor contact (they are told
    # apart by role, as in Lexware), and a supplier's number is its own, not our series.
    findings.duplicate_customers += [
        f"lexware: {name}"
        for name in _repeated(
            f"{_lexware_role(c)} {c['company']['name']}"
            for c in state["contacts"]
            if c["company"] and c["company"].get("name")
        )
    ]


def _lexware_role(contact: dict[str, Any]) -> str:
    return "vendor" if "vendor" in (contact.get("roles") or {}) else "customer"


def finalize_some_lexware(
    sandbox: str, documents: list[dict[str, Any]], how_many: int
) -> list[str]:
    """Finalise a few drafts in Lexware, as a bookkeeper would; returns the voucher ids."""
    drafts = [d["remote_id"] for d in _done(documents) if d["status"] == "sent"][:how_many]
    for voucher in drafts:
        response = httpx.post(f"{sandbox}/_sandbox/lexware/vouchers/{voucher}/finalize")
        assert response.status_code == 200, response.text
    return drafts
