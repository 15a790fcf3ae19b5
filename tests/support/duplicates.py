"""Issue 4's seed, as the end-to-end tests play it: documents booked in an Exact division,
then a bookkeeper deletes the newest entries there with another Exact client, and the next
invoice gets a number a document here still holds (flagged ``duplicate_of``)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import delete_entries, document_body, wait_for
from tests.support.processes import Stack


def division_state(stack: Stack, division: int) -> dict[str, Any]:
    return dict(httpx.get(f"{stack.sandbox_url}/_sandbox/exact/divisions/{division}").json())


def settled(
    partner: httpx.Client, path: str, document_id: str, status: str = "booked"
) -> dict[str, Any] | None:
    body = partner.get(f"{path}/{document_id}").json()
    return body if body["sync"] and body["sync"][0]["status"] == status else None


def delete_newest_entries(stack: Stack, division: int, token: str, count: int = 2) -> list[Any]:
    """The bookkeeper's deletes in Exact (``token``: another Exact client's), newest first
    numbers freed; the deleted entries as the sandbox listed them."""
    entries = division_state(stack, division)["entries"]
    newest = sorted(entries, key=lambda e: e["entry_number"])[-count:]
    delete_entries(stack, division, token, newest)
    return newest


def book_a_duplicate(
    partner: httpx.Client, client_id: str, number: str, issue_date: str
) -> dict[str, Any]:
    """The next invoice after the deletes: booked with a number another document holds."""
    new = partner.post(
        "/v1/invoices", json=document_body(client_id, number, issue_date=issue_date)
    ).json()["id"]
    booked = wait_for(lambda: settled(partner, "/v1/invoices", new))
    assert booked["sync"][0]["duplicate_of"] is not None, booked
    return booked
