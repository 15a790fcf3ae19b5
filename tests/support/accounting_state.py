"""Exactly-once checks from both sides: the sandbox's own books (entries, vouchers,
documents, customers) against our documents and their sync states."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

DONE = {"booked", "sent"}
UNSETTLED = {"pending", "sending", "ambiguous"}


@dataclass
class Findings:
    """What a chaos run must end with: every list empty, every count zero."""

    documents: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    duplicates: list[str] = field(default_factory=list)  # a document booked twice or more
    lost: list[str] = field(default_factory=list)  # ours says done, the books lack it
    unsettled: list[str] = field(default_factory=list)  # never reached an end state
    duplicate_booking_numbers: list[str] = field(default_factory=list)
    duplicate_customers: list[str] = field(default_factory=list)
    failures_without_reason: list[str] = field(default_factory=list)

    def add_ours(self, documents: Iterable[dict[str, Any]]) -> None:
        for document in documents:
            self.documents += 1
            for state in document["sync"]:
                self.by_status[state["status"]] += 1
                label = f"{document['number']} ({state['system']})"
                if state["status"] in UNSETTLED:
                    self.unsettled.append(f"{label}: {state['status']}")
                error = state.get("error") or {}
                if state["status"] == "failed" and not (error.get("code") and error.get("message")):
                    self.failures_without_reason.append(label)


def list_documents(partner: httpx.Client, client_id: str) -> list[dict[str, Any]]:
    """Every invoice of a client, following the cursor."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"client_id": client_id, "limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = partner.get("/v1/invoices", params=params)
        assert page.status_code == 200, page.text
        found.extend(page.json()["data"])
        cursor = page.json()["next_cursor"]
        if not cursor:
            return found


def _repeated(values: Iterable[str | None]) -> list[str]:
    return sorted(v for v, n in Counter(v for v in values if v).items() if n > 1)


def _done(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"number": d["number"], **s} for d in documents for s in d["sync"] if s["status"] in DONE
    ]


def check_exact(
    sandbox: str, division: int, documents: list[dict[str, Any]], findings: Findings
) -> None:
    state = httpx.get(f"{sandbox}/_sandbox/exact/divisions/{division}").json()
    refs = Counter(e["your_ref"] for e in state["entries"])
    findings.duplicates += [f"exact {division}: {r} x{n}" for r, n in refs.items() if n > 1]
    findings.lost += [
        f"exact {division}: {d['number']}" for d in _done(documents) if d["number"] not in refs
    ]
    for journal in {e["journal"] for e in state["entries"]}:
        numbers = [str(e["entry_number"]) for e in state["entries"] if e["journal"] == journal]
        findings.duplicate_booking_numbers += [
            f"exact {division}/{journal}: {n}" for n in _repeated(numbers)
        ]
    findings.duplicate_customers += [
        f"exact {division}: {name}" for name in _repeated(a["name"] for a in state["accounts"])
    ]


def check_yuki(
    sandbox: str, administration: str, documents: list[dict[str, Any]], findings: Findings
) -> None:
    state = httpx.get(f"{sandbox}/_sandbox/yuki/administrations/{administration}").json()
    refs = Counter(d["reference"] for d in state["documents"])
    findings.duplicates += [f"yuki: {r} x{n}" for r, n in refs.items() if n > 1]
    findings.lost += [f"yuki: {d['number']}" for d in _done(documents) if d["number"] not in refs]
    findings.duplicate_booking_numbers += [
        f"yuki {administration}: {n}"
        for n in _repeated(d["booking_number"] for d in state["documents"])
    ]
    findings.duplicate_customers += [
        f"yuki: {name}" for name in _repeated(c["name"] for c in state["contacts"])
    ]


def check_lexware(
    sandbox: str, organization: str, documents: list[dict[str, Any]], findings: Findings
) -> None:
    """Lexware vouchers carry no reference of ours: every voucher must be the remote id of
    exactly one of our documents, and every document we call sent must have its voucher."""
    state = httpx.get(f"{sandbox}/_sandbox/lexware/organizations/{organization}").json()
    vouchers = {v["id"]: v for v in state["vouchers"]}
    ours = Counter(d["remote_id"] for d in _done(documents))
    findings.duplicates += [f"lexware: voucher {v} not ours" for v in vouchers if v not in ours]
    findings.duplicates += [f"lexware: {r} x{n}" for r, n in ours.items() if n > 1]
    findings.lost += [
        f"lexware: {d['number']}" for d in _done(documents) if d["remote_id"] not in vouchers
    ]
    findings.duplicate_booking_numbers += [
        f"lexware {organization}: {n}"
        for n in _repeated(v["voucherNumber"] for v in state["vouchers"])
    ]
    findings.duplicate_customers += [
        f"lexware: {name}"
        for name in _repeated(c["company"] and c["company"].get("name") for c in state["contacts"])
    ]


def finalize_some_lexware(
    sandbox: str, documents: list[dict[str, Any]], how_many: int
) -> list[str]:
    """Finalise a few drafts in Lexware, as a bookkeeper would; returns the voucher ids."""
    drafts = [d["remote_id"] for d in _done(documents) if d["status"] == "sent"][:how_many]
    for voucher in drafts:
        response = httpx.post(f"{sandbox}/_sandbox/lexware/vouchers/{voucher}/finalize")
        assert response.status_code == 200, response.text
    return drafts
