"""Issue 23 items 3 and 6 in a real headless Chromium against the whole system: the
webhooks page (an endpoint made from the console, its delivery with the attempt, a
replay, a secret rotation), the documents' filters and payment column, and a booked
document's history from the real Exact connector's ledger. Every page is
screenshotted and held to axe-core, as in test_console.py (whose fixtures these reuse)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from starlette.applications import Starlette
from starlette.routing import Route

from tests.e2e.conftest import document_body, wait_for
from tests.e2e.test_console import SHOTS, books, look, sign_in
from tests.support.processes import Stack
from tests.support.servers import serve_in_thread
from tests.support.webhooks import Receiver

pytestmark = pytest.mark.e2e

__all__ = ["books"]  # the console module's fixture, used here by name


@pytest.fixture(scope="module")
def shots() -> Path:
    """This module's screenshots, beside test_console.py's."""
    folder = SHOTS / "webhooks-and-history"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    print(f"\nconsole screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """The partner's system: verifies each signature with the secret the console showed."""
    state = Receiver()
    app = Starlette(routes=[Route("/hooks", state.handle, methods=["POST"])])
    with serve_in_thread(app) as url:
        state.url = f"{url}/hooks"
        yield state


def test_an_endpoint_made_in_the_console_gets_a_delivery_that_is_replayed_and_rotated(
    page: Page,
    stack: Stack,
    books: dict[str, Any],
    shots: Path,
    partner: httpx.Client,
    receiver: Receiver,
) -> None:
    sign_in(page, stack, books["key"])
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhooks")
    look(page, shots, "webhooks-empty")
    page.get_by_label("Receiver URL").fill(receiver.url)
    page.get_by_label("document.booked").check()
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.locator("#new-secret")
    expect(secret).to_have_text(re.compile(r"^whsec_"))
    receiver.secret = secret.inner_text()
    look(page, shots, "webhooks-created")
    [endpoint] = partner.get("/v1/webhook-endpoints").json()

    booked = partner.post(
        "/v1/invoices", json=document_body(books["client_id"], "2026-W001", customer="cust-w")
    )
    assert booked.status_code == 201, booked.text
    wait_for(lambda: receiver.statuses == [200])  # signed with the secret the page showed
    # The receiver counts the request before the dispatcher has read its answer and
    # recorded it: the page shows what is recorded, so wait for that first.
    wait_for(lambda: recorded(partner, endpoint["id"]) == [("delivered", 1)])
    page.goto(f"{stack.api_url}/console/webhooks")
    section = page.locator(f"section.endpoint[data-endpoint='{endpoint['id']}']")
    delivery = section.locator("tr[data-event-type='document.booked']")
    expect(delivery).to_have_count(1)
    expect(delivery).to_have_attribute("data-status", "delivered")
    expect(delivery.locator("li.attempt")).to_have_count(1)
    expect(delivery.locator("li.attempt")).to_contain_text("HTTP 200")
    look(page, shots, "webhooks-delivered")

    delivery.get_by_role("button", name=re.compile("^Replay document.booked")).click()
    wait_for(lambda: len(receiver.received) == 2)
    first, again = receiver.received
    assert first.headers["webhook-id"] == again.headers["webhook-id"]  # the same delivery
    wait_for(lambda: recorded(partner, endpoint["id"]) == [("delivered", 2)])
    page.goto(f"{stack.api_url}/console/webhooks")
    expect(delivery.locator("li.attempt")).to_have_count(2)
    look(page, shots, "webhooks-replayed")

    section.get_by_role("button", name=f"Rotate the secret of {receiver.url}").click()
    expect(secret).to_have_text(re.compile(r"^whsec_"))
    rotated = secret.inner_text()
    assert rotated != receiver.secret
    expect(section.locator("dl.counts")).to_contain_text("Previous secret signs until")
    look(page, shots, "webhooks-rotated")
    page.reload()
    expect(page).to_have_url(re.compile(r"/console/webhooks$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhooks")
    expect(section).to_be_visible()
    expect(page.locator("#new-secret")).to_have_count(0)  # shown once only


def recorded(partner: httpx.Client, endpoint_id: str) -> list[tuple[str, int]]:
    """Each delivery's status and attempts of an endpoint, as the API has recorded them."""
    answer = partner.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries")
    assert answer.status_code == 200, answer.text
    return [(delivery["status"], delivery["attempts"]) for delivery in answer.json()["data"]]


def test_the_filters_narrow_the_documents_and_the_history_tells_the_booking(
    page: Page, stack: Stack, books: dict[str, Any], shots: Path
) -> None:
    sign_in(page, stack, books["key"])
    page.goto(f"{stack.api_url}/console/clients/{books['client_id']}/documents")
    rows = page.locator("#documents tbody tr")
    expect(page.locator("tr[data-number='2025-C002']")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Payment (Exact Online)")).to_be_visible()
    everything = rows.count()
    assert everything >= 2

    page.get_by_label("Sync status").select_option("failed")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"status=failed"))
    expect(rows).to_have_count(1)
    expect(page.locator("tr[data-number='2025-C002']")).to_be_visible()
    look(page, shots, "documents-filter-status")

    page.get_by_label("Sync status").select_option("")
    page.get_by_label("System").select_option("exact")
    page.get_by_label("Issued from").fill("2026-01-01")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"issued_from=2026-01-01"))
    expect(page.locator("tr[data-number='2025-C002']")).to_have_count(0)
    expect(page.locator("tr[data-number='2026-C001']")).to_be_visible()
    assert rows.count() < everything
    look(page, shots, "documents-filter-system-dates")

    page.get_by_label("System").select_option("lexware")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("No documents here.")).to_be_visible()

    page.goto(f"{stack.api_url}/console/clients/{books['client_id']}/documents")
    page.get_by_role("link", name="History of 2026-C001").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("History of 2026-C001")
    history = page.locator("#history")
    expect(history.locator("[data-event='received']")).to_have_count(1)
    expect(history.locator("[data-event='pushed']")).to_contain_text("Sent to Exact Online")
    expect(history.locator("[data-event='booked']")).to_contain_text(
        f"Booked in Exact Online as {books['booking_number']}"
    )
    look(page, shots, "document-history")
