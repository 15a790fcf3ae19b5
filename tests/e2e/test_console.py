"""Issue 23: the accountant's console in a real headless Chromium, against the whole
system (API, Exact connector, sandbox, broker as processes). Every page is screenshotted
and checked with axe-core: no serious or critical violation."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import connect_exact, document_body, new_exact_division, wait_for
from tests.support.browser import describe, serious_violations
from tests.support.processes import Stack

pytestmark = pytest.mark.e2e


# The run's output beside make run's state (.run/ is ignored by git), replaced each run:
# pytest's own temporary folders are pruned after three runs.
SHOTS = Path(__file__).resolve().parents[2] / ".run" / "console-screenshots"


@pytest.fixture(scope="module")
def shots() -> Path:
    """Where the screenshots of every page go."""
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    print(f"\nconsole screenshots: {SHOTS}")
    return SHOTS


@pytest.fixture(scope="module")
def books(stack: Stack, partner: httpx.Client) -> dict[str, Any]:
    """A client connected to Exact with one booked invoice, one that failed (dated before
    the integration's start) and the notification of a finished manual run; and a
    read-only key of the same partner."""
    client = partner.post("/v1/clients", json={"name": "Bakkerij Console", "country": "NL"})
    assert client.status_code == 201, client.text
    client_id = client.json()["id"]
    connect_exact(partner, client_id, new_exact_division(stack))
    booked = partner.post("/v1/invoices", json=document_body(client_id, "2026-C001"))
    assert booked.status_code == 201, booked.text
    early = document_body(client_id, "2025-C002", issue_date="2025-12-01")
    failed = partner.post("/v1/invoices", json=early)
    assert failed.status_code == 201, failed.text
    number = wait_for(
        lambda: partner.get(f"/v1/invoices/{booked.json()['id']}").json()["booking_number"]
    )
    run = partner.post("/v1/sync-runs", json={"document_ids": [booked.json()["id"]]})
    assert run.status_code == 202, run.text
    wait_for(
        lambda: partner.get(f"/v1/sync-runs/{run.json()['id']}").json()["status"] == "finished"
    )
    notification = next(
        n for n in partner.get("/v1/notifications").json() if n["sync_run_id"] == run.json()["id"]
    )
    reader = partner.post("/v1/api-keys", json={"name": "dashboard", "scopes": ["read"]})
    assert reader.status_code == 201, reader.text
    return {
        "client_id": client_id,
        "booking_number": str(number),
        "notification": notification,
        "key": partner.headers["Authorization"].removeprefix("Bearer "),
        "read_key": reader.json()["api_key"],
    }


def look(page: Page, shots: Path, name: str) -> None:
    """Screenshot the page and hold it to axe-core."""
    page.screenshot(path=shots / f"{name}.png", full_page=True)
    violations = serious_violations(page)
    assert not violations, f"{name}: {describe(violations)}"


def sign_in(page: Page, stack: Stack, key: str) -> None:
    page.goto(f"{stack.api_url}/console/sign-in")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Clients")


def test_a_wrong_key_gets_the_form_again_with_the_reason(
    page: Page, stack: Stack, books: dict[str, Any], shots: Path
) -> None:
    page.goto(f"{stack.api_url}/console/clients")
    expect(page).to_have_url(re.compile(r"/console/sign-in$"))  # no session: the form
    look(page, shots, "sign-in")
    page.get_by_label("API key").fill(books["key"][:-4] + "0000")
    with page.expect_response(f"{stack.api_url}/console/sign-in") as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 401
    expect(page.get_by_role("alert")).to_contain_text("unknown or revoked")
    look(page, shots, "sign-in-refused")


def test_the_documents_show_the_booking_number_and_filter_the_unsynced(
    page: Page, stack: Stack, books: dict[str, Any], shots: Path
) -> None:
    sign_in(page, stack, books["key"])
    row = page.locator("tr", has=page.get_by_role("link", name="Bakkerij Console"))
    expect(row.locator("[data-health]")).to_have_attribute("data-health", "active")
    expect(row.locator(".failed")).to_have_text("Failed: 1")
    look(page, shots, "clients")

    row.get_by_role("link", name="Bakkerij Console").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bakkerij Console: Invoices")
    booked = page.locator("tr[data-number='2026-C001']")
    expect(booked.locator(".booking-number")).to_have_text(books["booking_number"])
    expect(booked.locator(".sync")).to_have_attribute("data-status", "booked")
    failed = page.locator("tr[data-number='2025-C002']")
    expect(failed.locator(".sync")).to_have_attribute("data-status", "failed")
    expect(failed.get_by_role("button", name="Retry 2025-C002")).to_be_visible()
    look(page, shots, "documents")

    page.get_by_label("Show").select_option("not_synced")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"show=not_synced"))
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tr[data-number='2025-C002']")).to_be_visible()
    look(page, shots, "documents-not-synced")


def test_a_german_browser_gets_the_console_in_german_and_can_switch(
    browser: Browser, stack: Stack, books: dict[str, Any], shots: Path
) -> None:
    """Chromium's locale sends ``Accept-Language: de-DE``; the switch then picks Dutch."""
    context = browser.new_context(locale="de-DE")
    try:
        page = context.new_page()
        page.goto(f"{stack.api_url}/console/sign-in")
        expect(page.locator("html")).to_have_attribute("lang", "de")
        page.get_by_label("API-Schlüssel").fill(books["key"])
        page.get_by_role("button", name="Anmelden").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Mandanten")
        page.get_by_role("link", name="Bakkerij Console").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Bakkerij Console: Rechnungen")
        headers = page.get_by_role("columnheader")
        expect(headers.filter(has_text="Buchungsnummer (Exact Online)")).to_have_count(1)
        expect(headers.filter(has_text="Belegdatum")).to_have_count(1)
        expect(page.locator("tr[data-number='2025-C002'] .sync")).to_contain_text("Fehlgeschlagen")
        look(page, shots, "documents-de")

        page.get_by_label("Sprache").select_option("nl")
        page.get_by_role("button", name="Sprache wechseln").click()
        expect(page.locator("html")).to_have_attribute("lang", "nl")
        expect(page.get_by_role("heading", level=1)).to_have_text("Bakkerij Console: Facturen")
        expect(
            page.get_by_role("columnheader", name="Boekingsnummer (Exact Online)")
        ).to_be_visible()
        look(page, shots, "documents-nl")
        page.get_by_role("link", name="Inbox").click()
        cause = page.locator("[data-cause='before_start_date']")
        expect(cause.get_by_role("heading")).to_contain_text("Niet verzonden")
        look(page, shots, "inbox-nl")
    finally:
        context.close()


def test_the_inbox_shows_the_failed_document_under_its_cause_with_the_fix(
    page: Page, stack: Stack, books: dict[str, Any], shots: Path
) -> None:
    sign_in(page, stack, books["key"])
    page.get_by_role("link", name="Inbox").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Inbox")
    cause = page.locator("[data-cause='before_start_date'][data-system='exact']")
    expect(cause.get_by_role("heading")).to_contain_text("move the integration's start date")
    expect(cause.locator("tr[data-number='2025-C002']")).to_be_visible()
    expect(cause.get_by_role("button", name="Retry 2025-C002")).to_be_visible()
    look(page, shots, "inbox")


def test_the_bell_shows_the_run_notification_unread_first(
    page: Page, stack: Stack, books: dict[str, Any], shots: Path, partner: httpx.Client
) -> None:
    unread = len(partner.get("/v1/notifications", params={"unread": "true"}).json())
    sign_in(page, stack, books["key"])
    expect(page.locator("#bell .count")).to_have_attribute("data-unread", str(unread))
    page.get_by_role("link", name=re.compile("^Notifications")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    ours = page.locator(f"#unread [data-notification='{books['notification']['id']}']")
    expect(ours.get_by_role("heading")).to_have_text(books["notification"]["title"])
    expect(ours.locator("dl.counts")).to_contain_text("Synced")
    look(page, shots, "notifications")

    ours.get_by_role("button", name="Mark as read").click()
    moved = page.locator(f"#read [data-notification='{books['notification']['id']}']")
    expect(moved).to_be_visible()
    expect(page.locator("#bell .count")).to_have_attribute("data-unread", str(unread - 1))
    read_at = next(
        n["read_at"]
        for n in partner.get("/v1/notifications").json()
        if n["id"] == books["notification"]["id"]
    )
    assert read_at is not None


def test_a_read_only_key_sees_no_action_buttons(
    page: Page, stack: Stack, books: dict[str, Any], shots: Path, partner: httpx.Client
) -> None:
    extra = partner.post("/v1/sync-runs", json={"client_id": books["client_id"]})
    assert extra.status_code == 202, extra.text  # one more unread notification to not mark
    wait_for(
        lambda: partner.get(f"/v1/sync-runs/{extra.json()['id']}").json()["status"] == "finished"
    )
    sign_in(page, stack, books["read_key"])
    expect(page.get_by_role("note")).to_contain_text("Read-only")
    page.goto(f"{stack.api_url}/console/clients/{books['client_id']}/documents")
    expect(page.locator("tr[data-number='2025-C002'] .sync")).to_have_attribute(
        "data-status", "failed"
    )
    expect(page.locator("[data-action]")).to_have_count(0)
    look(page, shots, "documents-read-only")
    page.goto(f"{stack.api_url}/console/notifications")
    expect(page.locator("#unread [data-notification]")).not_to_have_count(0)
    expect(page.locator("[data-action]")).to_have_count(0)
    look(page, shots, "notifications-read-only")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/console/sign-in$"))


def test_two_chosen_documents_are_sent_and_the_run_is_followed_to_its_end(
    page: Page, stack: Stack, books: dict[str, Any], shots: Path, partner: httpx.Client
) -> None:
    """Select two, send, watch the progress (htmx polls it) reach finished: both booked,
    and exactly one new notification on the bell. The two were dated before the start
    date (not sent) until it moved back; Exact's first answer to the run hangs (a sandbox
    fault), so the run is still going when its page opens."""
    client_id = partner.post("/v1/clients", json={"name": "Bakkerij Verzending"}).json()["id"]
    integration = connect_exact(partner, client_id, new_exact_division(stack))
    numbers = ["2025-V001", "2025-V002"]
    for number in numbers:
        body = document_body(client_id, number, issue_date="2025-12-01")
        created = partner.post("/v1/invoices", json=body)
        assert created.status_code == 201, created.text
    moved = partner.patch(
        f"/v1/integrations/{integration['id']}",
        json={"settings": {"start_date": "2025-01-01"}},
    )
    assert moved.status_code == 200, moved.text
    sign_in(page, stack, books["key"])
    unread = int(page.locator("#bell .count").get_attribute("data-unread") or "")
    page.goto(f"{stack.api_url}/console/clients/{client_id}/documents")
    for number in numbers:
        page.get_by_role("checkbox", name=f"Select {number}").check()
    look(page, shots, "documents-selected")

    armed = httpx.post(
        f"{stack.sandbox_url}/_sandbox/faults",
        json={
            "system": "exact",
            "path_pattern": "salesentry/SalesEntries",
            "kind": "timeout",
            "count": 1,
            "method": "POST",
        },
    )
    assert armed.status_code < 300, armed.text
    page.get_by_role("button", name="Send to accounting").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Bakkerij Verzending: Sending to accounting"
    )
    progress = page.locator("#run-progress")
    expect(progress).to_have_attribute("data-status", "running")
    look(page, shots, "sync-run-running")
    expect(progress).to_have_attribute("data-status", "finished", timeout=60_000)
    expect(progress.get_by_role("status")).to_have_text("Finished: 2 of 2 done.")
    expect(progress.locator("tbody tr")).to_have_count(2)
    for number in numbers:
        row = progress.locator(f"tr[data-number='{number}']")
        expect(row.locator(".sync")).to_have_attribute("data-status", "booked")
        expect(row.locator(".booking-number")).to_have_text(re.compile(r"^\d+$"))
    # In the same swap as "finished" (out of band), not at the bell's next 15 s refresh.
    bell = page.locator("#bell .count")
    expect(bell).to_have_attribute("data-unread", str(unread + 1), timeout=2_000)
    look(page, shots, "sync-run-finished")

    run_id = progress.get_attribute("data-run")
    ours = [n for n in partner.get("/v1/notifications").json() if n["sync_run_id"] == run_id]
    assert len(ours) == 1
