"""The whole system as separate processes, once per e2e module, and helpers to drive it
as a partner would."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.integration.connectors.exact_support import oauth_tokens
from tests.support.browser import chromium, ensure_chromium
from tests.support.processes import Stack, running_stack

T = TypeVar("T")


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest,
    database_url: str,
    kafka_bootstrap: str,
    encryption_key: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """A module names the connectors it needs in ``CONNECTORS`` (default: Exact only) and
    may set settings of its own in ``STACK_ENV``."""
    log_dir = Path(tmp_path_factory.mktemp("logs"))
    with running_stack(
        database_url=database_url,
        bootstrap=kafka_bootstrap,
        encryption_key=encryption_key,
        log_dir=log_dir,
        connectors=getattr(request.module, "CONNECTORS", ("exact",)),
        extra_env={
            "INVOICESYNC_LEXWARE_POLL_INTERVAL_SECONDS": "1",
            **getattr(request.module, "STACK_ENV", {}),
        },
    ) as running:
        yield running


@pytest.fixture(scope="module")
def browser(stack: Stack) -> Iterator[Browser]:
    """One headless Chromium (Debian's; installed when missing) for the module's tests.

    Started after the stack and closed before it: Playwright's sync API holds the
    thread's event loop while it runs, and the stack's set-up and tear-down need it."""
    reason = ensure_chromium()
    if reason is not None:
        print(f"\n*** SKIPPING THE BROWSER TESTS: {reason} ***", file=sys.stderr)
        pytest.skip(f"browser tests need Debian's chromium: {reason}")
    with chromium() as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (own cookies) per test, in the one browser."""
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def partner(stack: Stack) -> Iterator[httpx.Client]:
    admin = httpx.post(
        f"{stack.api_url}/admin/v1/partners",
        json={"name": f"Partner {uuid.uuid4().hex[:6]}"},
        headers={"Authorization": f"Bearer {stack.admin_token}"},
    )
    assert admin.status_code == 201, admin.text
    with httpx.Client(
        base_url=stack.api_url,
        timeout=60,
        headers={"Authorization": f"Bearer {admin.json()['api_key']}"},
    ) as client:
        yield client


def wait_for(predicate: Callable[[], T | None], timeout: float = 90.0) -> T:
    """Poll until ``predicate`` returns something truthy (events arrive asynchronously)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def new_exact_division(stack: Stack) -> dict[str, Any]:
    created = httpx.post(f"{stack.sandbox_url}/_sandbox/exact/divisions", json={})
    assert created.status_code == 201, created.text
    return dict(created.json())


# The sandbox's one Exact user allows access one window at a time, as a person would:
# Exact refuses an older code once a newer one was issued (benchmarks connect in threads).
_ONE_CONSENT_AT_A_TIME = threading.Lock()


def connect_exact(
    partner: httpx.Client, client_id: str, division: dict[str, Any]
) -> dict[str, Any]:
    """Create the integration and follow the consent redirects as the user's browser."""
    created = new_exact_integration(partner, client_id, division)
    with _ONE_CONSENT_AT_A_TIME:
        callback = httpx.get(created["authorize_url"], follow_redirects=True, timeout=60)
    assert callback.status_code == 200, callback.text
    integration = partner.get(f"/v1/integrations/{created['id']}").json()
    assert integration["status"] == "active", integration["status_reason"]
    return dict(integration)


def new_exact_integration(
    partner: httpx.Client, client_id: str, division: dict[str, Any]
) -> dict[str, Any]:
    """An Exact integration on ``division`` waiting for consent (with its
    ``authorize_url``)."""
    created = partner.post(
        f"/v1/clients/{client_id}/integrations",
        json={
            "system": "exact",
            "settings": {
                "division": division["division"],
                "sales_journal": division["sales_journal"],
                "credit_note_journal": division["credit_note_journal"],
                "start_date": "2026-01-01",
            },
        },
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


def exact_token_for_test_app(stack: Stack) -> str:
    """An independent Exact client (the sandbox's second app), as a bookkeeper's tool."""
    app = httpx.get(f"{stack.sandbox_url}/_sandbox/demo").json()["exact"]["test_app"]
    with _ONE_CONSENT_AT_A_TIME:  # one consent of this app and user at a time
        tokens = oauth_tokens(
            stack.sandbox_url,
            client_id=app["client_id"],
            client_secret=app["client_secret"],
            redirect_uri=app["redirect_uri"],
        )
    return str(tokens["access_token"])


def delete_entries(stack: Stack, division: int, token: str, entries: list[dict[str, Any]]) -> None:
    """A bookkeeper deletes these entries in Exact with another Exact client (``token``)."""
    for entry in entries:
        deleted = httpx.delete(
            f"{stack.sandbox_url}/exact/api/v1/{division}/salesentry/SalesEntries(guid'{entry['entry_id']}')",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        assert deleted.status_code == 204, deleted.text


def document_body(
    client_id: str,
    number: str,
    *,
    issue_date: str = "2026-11-20",
    customer: str = "cust-1",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "external_id": f"ext-{number}",
        "number": number,
        "status": "booked",
        "issue_date": issue_date,
        "currency": "EUR",
        "customer": {
            "external_id": customer,
            "name": f"Customer {customer}",
            "vat_number": f"NL{abs(hash(customer)) % 10**9:09d}B01",
            "country": "NL",
        },
        "lines": [
            {"description": "Work", "quantity": "2", "unit_price": "75.00", "vat_rate": "21"}
        ],
        **extra,
    }
