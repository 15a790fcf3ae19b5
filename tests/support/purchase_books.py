"""Exactly-once checks for purchase documents, from the sandbox's books: one purchase entry
(Exact) or one archive upload (Yuki, found by our marker) per document, each supplier one
supplier account of its own, and the file where the system keeps it exactly once.

Settled: Exact ``booked``; Yuki ``sent`` (uploaded, awaiting Yuki's processing: only Yuki
books it) or ``booked``; Lexware ``sent`` or ``booked``. Anything else at the end is
unsettled. A lost answer while filing is found again by our marker in the Subject; an
Exact document filed again by a retry that looks nothing up first (a plain 429 or 500 of
the entry, retried on another replica or after a restart) or after a supplier edit leaves
the first unlinked: a known, documented limitation, counted, not a failure (two *entries*
are)."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from connector_yuki.archive import token

SETTLED = {"exact": {"booked"}, "yuki": {"sent", "booked"}, "lexware": {"sent", "booked"}}


@dataclass
class PurchaseFindings:
    """What the purchase side of a chaos run must end with: every list empty."""

    documents: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    unsettled: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # settled, the books lack it
    double_bookings: list[str] = field(default_factory=list)  # in the books twice, or no one's
    wrong_entries: list[str] = field(default_factory=list)  # amount or supplier not its own
    duplicate_suppliers: list[str] = field(default_factory=list)  # one supplier, two accounts
    merged_into_customer: list[str] = field(default_factory=list)  # a customer's account
    files_wrong: list[str] = field(default_factory=list)  # missing, other bytes, or twice
    unlinked_files: list[str] = field(default_factory=list)  # the documented limitation

    def add_ours(self, system: str, documents: list[dict[str, Any]]) -> None:
        for document in documents:
            self.documents += 1
            for state in document["sync"]:
                self.by_status[state["status"]] += 1
                if state["status"] not in SETTLED[system]:
                    why = (state.get("error") or {}).get("code") or state.get("waiting_reason")
                    self.unsettled.append(
                        f"{system} {document['number']}: {state['status']} ({why})"
                    )


def _settled(system: str, documents: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
    """Each settled document with its remote id."""
    return [
        (d, s["remote_id"]) for d in documents for s in d["sync"] if s["status"] in SETTLED[system]
    ]


def check_exact_purchases(
    sandbox: str, division: int, documents: list[dict[str, Any]], findings: PurchaseFindings
) -> None:
    state = httpx.get(f"{sandbox}/_sandbox/exact/divisions/{division}").json()
    accounts = {a["id"]: a for a in state["accounts"]}
    entries = {e["entry_id"]: e for e in state["purchase_entries"]}
    filed = {d["id"]: d for d in state["documents"]}
    customers = {e["customer"] for e in state["entries"]}
    where = f"exact {division}"
    settled = _settled("exact", documents)
    claimed = Counter(remote for _, remote in settled)
    refs = Counter((e["your_ref"], e["type"]) for e in entries.values())
    findings.double_bookings += [
        f"{where}: {r} (type {t}) x{n}" for (r, t), n in refs.items() if n > 1
    ]
    findings.double_bookings += [
        f"{where}: purchase entry {e['entry_number']} ({e['your_ref']}) is no document's"
        for e in entries.values()
        if e["entry_id"] not in claimed
    ]
    findings.double_bookings += [
        f"{where}: entry {r} claimed x{n}" for r, n in claimed.items() if n > 1
    ]
    suppliers: dict[str, set[str]] = {}  # our supplier's external id → its Exact accounts
    for document, remote in settled:
        label = f"{where}: {document['kind']} {document['number']}"
        entry = entries.get(remote)
        if entry is None:
            findings.lost.append(label)
            continue
        supplier = accounts.get(entry["supplier"]) or {}
        suppliers.setdefault(document["supplier"]["external_id"], set()).add(entry["supplier"])
        if abs(Decimal(entry["amount"])) != Decimal(document["totals"]["gross"]):
            findings.wrong_entries.append(f"{label}: total {entry['amount']}")
        if supplier.get("name") != document["supplier"]["name"]:
            findings.wrong_entries.append(f"{label}: supplier {supplier.get('name')!r}")
        if not supplier.get("is_supplier") or entry["supplier"] in customers:
            findings.merged_into_customer.append(f"{label}: account {supplier.get('code')}")
        attached = (filed.get(entry["document"] or "") or {}).get("attachments", [])
        if [a["sha256"] for a in attached] != [document["file"]["sha256"]]:
            findings.files_wrong.append(f"{label}: {len(attached)} attachment(s)")
    findings.duplicate_suppliers += [
        f"{where}: supplier {external} as {len(ids)} accounts"
        for external, ids in suppliers.items()
        if len(ids) > 1
    ]
    names = Counter(a["name"] for a in accounts.values() if a["is_supplier"])
    findings.duplicate_suppliers += [f"{where}: {n} x{c}" for n, c in names.items() if c > 1]
    linked = Counter(d["entry_id"] for d in filed.values() if d["entry_id"])
    findings.files_wrong += [
        f"{where}: entry {e} has {n} documents" for e, n in linked.items() if n > 1
    ]
    findings.unlinked_files += [
        f"{where}: {d['subject']}" for d in filed.values() if d["entry_id"] is None
    ]


def check_yuki_purchases(
    sandbox: str, administration: str, documents: list[dict[str, Any]], findings: PurchaseFindings
) -> None:
    """One upload per document, found by our marker in its file name."""
    state = httpx.get(f"{sandbox}/_sandbox/yuki/administrations/{administration}").json()
    archive = state["archive"]
    where = f"yuki {administration}"
    settled = _settled("yuki", documents)
    ours = {token(uuid.UUID(d["id"])): d for d in documents}
    uploads = Counter(m for a in archive for m in ours if m in a["file_name"])
    findings.double_bookings += [
        f"{where}: {ours[m]['number']} uploaded x{n}" for m, n in uploads.items() if n > 1
    ]
    findings.double_bookings += [
        f"{where}: upload {a['file_name']} is no document's"
        for a in archive
        if not any(m in a["file_name"] for m in ours)
    ]
    by_id = {a["document_id"].lower(): a for a in archive}
    for document, remote in settled:
        label = f"{where}: {document['kind']} {document['number']}"
        upload = by_id.get(str(remote).lower())
        if upload is None or token(uuid.UUID(document["id"])) not in upload["file_name"]:
            findings.lost.append(label)
        elif upload["size"] != document["file"]["size"]:
            findings.files_wrong.append(f"{label}: {upload['size']} bytes")
        elif abs(Decimal(upload["amount"] or "0")) != Decimal(document["totals"]["gross"]):
            # A credit note's upload carries its amount negative.
            findings.wrong_entries.append(f"{label}: amount {upload['amount']}")
