"""Issue 23 item 5 in a real headless Chromium against the whole system: a client's
Integrations tab connects Exact and Lexware through the sandbox's own consent pages and
comes back to the console, and Yuki with its access key and administration (a refused key
answered in the form); an invoice posted through the API shows its booking number in each
(and opens as the system's entry); and the seed's
duplicate booking numbers (entries deleted in Exact, numbers handed out again) are
repaired from the console after a confirmation that shows what will happen. Every new
page is screenshotted and held to axe-core."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import document_body, new_exact_division, wait_for
from tests.e2e.test_console import SHOTS, look, sign_in
from tests.support.duplicates import (
    book_a_duplicate,
    delete_newest_entries,
    division_state,
    settled,
)
from tests.support.integrations import ConnectedClient, invoice_body, new_client
from tests.support.oauth_codes import redeem
from tests.support.processes import Stack

pytestmark = pytest.mark.e2e
# The three systems' connectors in the one stack: each is connected from the console.
CONNECTORS = ("exact", "lexware", "yuki")

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
    expect(page.get_by_label("Purchase journal")).to_have_value("60")
    page.get_by_label("Purchase journal").fill("61")  # the division's receipts journal
    page.get_by_role("checkbox", name="Nightly sync").check()
    page.get_by_label("Stop sending after refusals in a row").fill("5")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#brake-after")).to_have_text("5")
    saved = partner.get(f"/v1/integrations/{integration_id}").json()
    assert (saved["nightly_sync"], saved["failure_brake_after"]) == (True, 5)
    assert saved["settings"]["purchase_journal"] == "61"

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


def booked_within_seconds(partner: httpx.Client, document_id: str) -> str:
    """The document's booking number, which must come back within seconds of the post."""
    body = wait_for(lambda: settled(partner, "/v1/invoices", document_id), timeout=15)
    return str(body["sync"][0]["booking_number"])


def open_entry(page: Page, row: Locator, number: str, system: str, sandbox: str) -> Locator:
    """Follow the booking number's "open in {system}" link (it opens a new tab; followed
    here in the same one) to the sandbox's page of the entry; its heading."""
    link = row.get_by_role("link", name=f"Open {number} in {system}")
    href = link.get_attribute("href")
    assert href is not None and href.startswith(sandbox), href
    page.goto(href)
    return page.get_by_role("heading", level=1)


def test_connect_lexware_from_the_console_through_its_consent_page(
    page: Page, stack: Stack, partner: httpx.Client, shots: Path
) -> None:
    org = httpx.post(
        f"{stack.sandbox_url}/_sandbox/lexware/organizations",
        json={"company_name": "Kammerjäger Konsole GmbH"},
    )
    assert org.status_code == 201, org.text
    client_id = new_client(partner, "Kammerjäger Konsole", "DE")

    sign_in(page, stack, partner.headers["Authorization"].removeprefix("Bearer "))
    page.goto(f"{stack.api_url}/console/clients/{client_id}/integrations")
    lexware = page.locator("form.connect[data-system='lexware']")
    lexware.get_by_label("Start date").fill("2026-01-01")
    lexware.get_by_role("button", name="Connect Lexware Office").click()

    # Lexware's consent page (in German, as Lexware's): the organisation, then allow.
    expect(page).to_have_url(re.compile(rf"^{re.escape(stack.sandbox_url)}/.*oauth2/authorize"))
    page.get_by_label("Organisation").select_option(label="Kammerjäger Konsole GmbH")
    page.get_by_role("button", name="Zugriff erlauben").click()
    expect(page).to_have_url(re.compile(rf"/console/clients/{client_id}/integrations\?"))
    expect(page.locator("#authorised")).to_have_text("Lexware Office is connected.")
    row = page.locator("#integrations tr[data-system='lexware']")
    expect(row.locator("[data-health]")).to_have_attribute("data-health", "active")
    look(page, shots, "integrations-lexware-connected")
    integration_id = row.get_attribute("data-integration")
    assert integration_id is not None
    connected = partner.get(f"/v1/integrations/{integration_id}").json()
    assert connected["status"] == "active", connected["status_reason"]
    assert connected["settings"]["start_date"] == "2026-01-01"

    # Its settings page: Lexware's settings only (no journals, no division).
    row.get_by_role("link", name="Lexware Office").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Kammerjäger Konsole: Lexware Office")
    expect(page.get_by_label("Sales journal")).to_have_count(0)
    look(page, shots, "integration-lexware")

    # An invoice posted through the API arrives as a draft voucher in the organisation the
    # user chose; the bookkeeper finalises it in Lexware and its voucher number comes back.
    client = ConnectedClient(client_id, "lexware", integration_id, org.json()["organization_id"])
    posted = partner.post("/v1/invoices", json=invoice_body(client, "KK-1", "kunde-1"))
    assert posted.status_code == 201, posted.text
    sent = wait_for(lambda: settled(partner, "/v1/invoices", posted.json()["id"], "sent"))
    page.goto(f"{stack.api_url}/console/clients/{client_id}/documents")
    row = page.locator("tr[data-number='KK-1']")
    expect(row.locator(".sync")).to_have_attribute("data-status", "sent")
    books = httpx.get(f"{stack.sandbox_url}/_sandbox/lexware/organizations/{client.books}")
    assert sent["sync"][0]["remote_id"] in books.text, books.text
    finalised = httpx.post(
        f"{stack.sandbox_url}/_sandbox/lexware/vouchers/{sent['sync'][0]['remote_id']}/finalize"
    )
    assert finalised.status_code == 200, finalised.text
    number = booked_within_seconds(partner, posted.json()["id"])
    assert number == finalised.json()["voucherNumber"]
    page.reload()
    expect(row.locator(".booking-number")).to_have_text(number)
    expect(row.locator(".sync")).to_have_attribute("data-status", "booked")
    look(page, shots, "documents-lexware")
    # The number opens the voucher in Lexware (the sandbox's page of it, no base URL set).
    opened = open_entry(
        page, row, number, "Lexware Office", f"{stack.sandbox_url}/_sandbox/lexware/"
    )
    expect(opened).to_contain_text(f"Lexware Office: invoice {number}")


def test_connect_yuki_from_the_console_with_its_access_key_and_administration(
    page: Page, stack: Stack, partner: httpx.Client, shots: Path
) -> None:
    administration = httpx.post(f"{stack.sandbox_url}/_sandbox/yuki/administrations", json={})
    assert administration.status_code == 201, administration.text
    adm = administration.json()
    client_id = partner.post(
        "/v1/clients", json={"name": "Ongedierte Console BV", "country": "NL"}
    ).json()["id"]

    sign_in(page, stack, partner.headers["Authorization"].removeprefix("Bearer "))
    page.goto(f"{stack.api_url}/console/clients/{client_id}/integrations")
    yuki = page.locator("form.connect[data-system='yuki']")
    # A key Yuki refuses: the form again, the access key named, the rest kept, nothing stored.
    yuki.get_by_label("Access key").fill("not-" + adm["access_key"])
    yuki.get_by_label("Administration ID").fill(adm["administration_id"])
    yuki.get_by_label("Start date").fill("2026-01-01")
    with page.expect_response(f"{stack.api_url}/console/clients/{client_id}/integrations") as a:
        yuki.get_by_role("button", name="Connect Yuki").click()
    assert a.value.status == 422
    yuki = page.locator("form.connect[data-system='yuki']")
    refusal = yuki.locator("#refused-yuki")
    expect(refusal).to_have_attribute("data-field", "access_key")
    expect(refusal).to_contain_text("Access key: ")
    expect(yuki.get_by_label("Access key")).to_have_attribute("aria-invalid", "true")
    expect(yuki.get_by_label("Access key")).to_have_value("")  # a secret is not sent back
    expect(yuki.get_by_label("Administration ID")).to_have_value(adm["administration_id"])
    expect(yuki.get_by_label("Start date")).to_have_value("2026-01-01")
    look(page, shots, "integrations-yuki-refused")
    assert partner.get(f"/v1/clients/{client_id}/integrations").json() == []

    yuki.get_by_label("Access key").fill(adm["access_key"])
    yuki.get_by_role("button", name="Connect Yuki").click()
    expect(page).to_have_url(re.compile(rf"/console/clients/{client_id}/integrations\?"))
    expect(page.locator("#authorised")).to_have_text("Yuki is connected.")
    row = page.locator("#integrations tr[data-system='yuki']")
    expect(row.locator("[data-health]")).to_have_attribute("data-health", "active")
    look(page, shots, "integrations-yuki-connected")
    integration_id = row.get_attribute("data-integration")
    assert integration_id is not None
    stored = partner.get(f"/v1/integrations/{integration_id}").json()
    assert stored["settings"]["administration_id"] == adm["administration_id"]

    row.get_by_role("link", name="Yuki").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ongedierte Console BV: Yuki")
    expect(page.get_by_label("Access key")).to_have_value("")
    look(page, shots, "integration-yuki")
    # A new key Yuki refuses, on the settings page: refused at its field, the old one kept
    # (the invoice below is booked with it).
    page.get_by_label("Access key").fill("not-a-key")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#refused-edit")).to_have_attribute("data-field", "access_key")
    expect(page.get_by_label("Access key")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Access key")).to_have_value("")
    look(page, shots, "integration-yuki-key-refused")

    client = ConnectedClient(client_id, "yuki", integration_id, adm["administration_id"])
    posted = partner.post("/v1/invoices", json=invoice_body(client, "OC-1", "klant-1"))
    assert posted.status_code == 201, posted.text
    number = booked_within_seconds(partner, posted.json()["id"])
    page.goto(f"{stack.api_url}/console/clients/{client_id}/documents")
    row = page.locator("tr[data-number='OC-1']")
    expect(row.locator(".booking-number")).to_have_text(number)
    look(page, shots, "documents-yuki")
    sandbox = f"{stack.sandbox_url}/_sandbox/yuki/administrations/{adm['administration_id']}/"
    opened = open_entry(page, row, number, "Yuki", sandbox)
    expect(opened).to_contain_text("Yuki: sales invoice OC-1")
