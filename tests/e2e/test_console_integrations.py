"""Issue 23 item 5 in a real headless Chromium against the whole system: a client's
Integrations tab connects Exact through the sandbox's own consent page and comes back to
the console; an invoice posted through the API shows its booking number; and the seed's
duplicate booking numbers (entries deleted in Exact, numbers handed out again) are
repaired from the console after a confirmation that shows what will happen. Every new
page is screenshotted and held to axe-core."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import document_body, new_exact_division, wait_for
from tests.e2e.test_console import SHOTS, look, sign_in
from tests.support.duplicates import (
    book_a_duplicate,
    delete_newest_entries,
    division_state,
    settled,
)
from tests.support.oauth_codes import redeem
from tests.support.processes import Stack

pytestmark = pytest.mark.e2e

# The consent page is shown (not approved at once), so the browser allows access on it.
STACK_ENV = {"INVOICESYNC_SANDBOX_AUTO_APPROVE": "0"}


def bookkeepers_token(stack: Stack) -> str:
    """An independent Exact client (the sandbox's second app), as a bookkeeper's tool,
    allowed on the consent page (this module's sandbox shows it)."""
    app = httpx.get(f"{stack.sandbox_url}/_sandbox/demo").json()["exact"]["test_app"]
    consent = {
        "client_id": app["client_id"],
        "redirect_uri": app["redirect_uri"],
        "response_type": "code",
        "state": "s",
        "decision": "allow",
    }
    allowed = httpx.post(f"{stack.sandbox_url}/exact/api/oauth2/auth", data=consent)
    token = redeem(
        allowed,
        f"{stack.sandbox_url}/exact/api/oauth2/token",
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        redirect_uri=app["redirect_uri"],
    )
    return str(token["access_token"])


@pytest.fixture(scope="module")
def shots() -> Path:
    """Beside the other console pages' screenshots (test_console.py clears the folder)."""
    folder = SHOTS / "integrations"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nconsole screenshots: {folder}")
    return folder


def test_connect_exact_from_the_console_then_repair_the_seeds_duplicate_numbers(
    page: Page, stack: Stack, partner: httpx.Client, shots: Path
) -> None:
    division = new_exact_division(stack)
    client = partner.post("/v1/clients", json={"name": "PestScan Console BV", "country": "NL"})
    assert client.status_code == 201, client.text
    client_id = client.json()["id"]

    # Sign in, open the client's Integrations tab and connect Exact.
    sign_in(page, stack, partner.headers["Authorization"].removeprefix("Bearer "))
    row = page.locator("tr", has=page.get_by_role("link", name="PestScan Console BV"))
    row.get_by_role("link", name="Integrations").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("PestScan Console BV: Integrations")
    look(page, shots, "integrations-empty")
    exact = page.locator("form.connect[data-system='exact']")
    exact.get_by_label("Division").fill(str(division["division"]))
    exact.get_by_label("Sales journal").fill(division["sales_journal"])
    exact.get_by_label("Credit note journal").fill(division["credit_note_journal"])
    exact.get_by_label("Start date").fill("2026-01-01")
    exact.get_by_role("button", name="Connect Exact Online").click()

    # The sandbox's consent page, then back in the console, connected.
    expect(page).to_have_url(re.compile(rf"^{re.escape(stack.sandbox_url)}/.*oauth2/auth"))
    page.get_by_role("button", name="Allow access").click()
    expect(page).to_have_url(re.compile(rf"/console/clients/{client_id}/integrations\?"))
    expect(page.locator("#authorised")).to_have_text("Exact Online is connected.")
    row = page.locator("#integrations tr[data-system='exact']")
    expect(row.locator("[data-health]")).to_have_attribute("data-health", "active")
    look(page, shots, "integrations-connected")
    integration_id = row.get_attribute("data-integration")
    assert partner.get(f"/v1/integrations/{integration_id}").json()["status"] == "active"

    # Settings from the console: nightly sync on, the failure brake at five.
    row.get_by_role("link", name="Exact Online").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("PestScan Console BV: Exact Online")
    look(page, shots, "integration")
    # A journal Exact does not have: refused in the form, the field named, values kept.
    page.get_by_label("Sales journal").fill("99")
    page.get_by_label("Stop sending after refusals in a row").fill("7")
    page.get_by_role("button", name="Save settings").click()
    refusal = page.locator("#refused-edit")
    expect(refusal).to_have_attribute("data-field", "sales_journal")
    expect(refusal).to_contain_text("Sales journal: ")
    expect(page.get_by_label("Sales journal")).to_have_value("99")
    expect(page.get_by_label("Sales journal")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Stop sending after refusals in a row")).to_have_value("7")
    look(page, shots, "integration-settings-refused")
    kept = partner.get(f"/v1/integrations/{integration_id}").json()
    assert kept["settings"]["sales_journal"] == division["sales_journal"]
    page.get_by_label("Sales journal").fill(division["sales_journal"])
    page.get_by_role("checkbox", name="Nightly sync").check()
    page.get_by_label("Stop sending after refusals in a row").fill("5")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#brake-after")).to_have_text("5")
    saved = partner.get(f"/v1/integrations/{integration_id}").json()
    assert (saved["nightly_sync"], saved["failure_brake_after"]) == (True, 5)

    # Invoices posted through the API show their booking numbers in the documents.
    invoices = [
        partner.post(
            "/v1/invoices",
            json=document_body(client_id, f"PC-{n}", issue_date=f"2026-11-0{n}"),
        ).json()["id"]
        for n in range(1, 4)
    ]
    numbers = [
        wait_for(lambda d=d: settled(partner, "/v1/invoices", d))["booking_number"]  # type: ignore[misc]
        for d in invoices
    ]
    page.goto(f"{stack.api_url}/console/clients/{client_id}/documents")
    expect(page.locator("tr[data-number='PC-1'] .booking-number")).to_have_text(numbers[0])

    # The seed: a bookkeeper deletes the two newest entries in Exact; the next invoice
    # gets a number that a document here still holds.
    delete_newest_entries(stack, division["division"], bookkeepers_token(stack))
    booked = book_a_duplicate(partner, client_id, "PC-4", "2026-11-04")
    new = booked["id"]
    invoices.append(new)

    # The inbox shows the cause with its two actions: the entry in Exact, and the repair.
    page.goto(f"{stack.api_url}/console/inbox")
    cause = page.locator(
        "section.problem[data-cause='duplicate_booking_number'][data-system='exact']"
    )
    expect(cause.locator("tr[data-number='PC-4']")).to_be_visible()
    look(page, shots, "inbox-duplicates")
    entry = cause.locator("tr[data-number='PC-4']").get_by_role(
        "link", name=f"Open {booked['booking_number']} in Exact Online"
    )
    href = entry.get_attribute("href")
    assert href is not None and href.startswith(f"{stack.sandbox_url}/_sandbox/exact/")
    page.goto(href)  # the sandbox's page of the entry (the link opens a new tab)
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        f"sales entry {booked['booking_number']}"
    )
    expect(page.locator("#entry")).to_contain_text("PC-4")
    page.go_back()
    cause.get_by_role(
        "link", name="Repair duplicate numbers of PestScan Console BV in Exact Online…"
    ).click()

    # The repair, from the console: first what will happen, then done.
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "PestScan Console BV: Repair duplicate booking numbers"
    )
    steps = page.locator("#steps")
    expect(steps.locator("li")).to_have_count(3)
    expect(page.locator("#duplicates")).not_to_have_attribute("data-count", "0")
    from_date = steps.get_attribute("data-from")
    assert from_date is not None
    expect(steps.locator("li").first).to_contain_text(f"Deactivate from {from_date}")
    look(page, shots, "repair-confirmation")
    # Nothing changed yet: the duplicate is still flagged.
    assert partner.get(f"/v1/invoices/{new}").json()["sync"][0]["duplicate_of"] is not None

    page.get_by_role("button", name="Repair now").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "PestScan Console BV: Sending to accounting"
    )
    progress = page.locator("#run-progress")
    expect(progress).to_have_attribute("data-status", "finished", timeout=60_000)
    look(page, shots, "repair-run-finished")

    # Every document has a unique booking number equal to Exact's entry; no customer twice.
    final = division_state(stack, division["division"])
    by_ref = {e["your_ref"]: e for e in final["entries"]}
    assert Counter(e["your_ref"] for e in final["entries"]).most_common(1)[0][1] == 1
    documents = [partner.get(f"/v1/invoices/{d}").json() for d in invoices]
    numbers = [d["booking_number"] for d in documents]
    assert len(set(numbers)) == len(numbers) == 4, numbers
    for document in documents:
        assert document["booking_number"] == str(by_ref[document["number"]]["entry_number"])
        assert document["sync"][0]["duplicate_of"] is None
    assert len(final["accounts"]) == 1
    page.goto(f"{stack.api_url}/console/clients/{client_id}/integrations")
    expect(page.locator("#integrations [data-health]")).to_have_attribute("data-health", "active")
