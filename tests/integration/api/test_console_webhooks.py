"""The console's webhooks page, document filters and document history over HTTP
(issue 23 items 3 and 6): who may act (admin for webhook changes, as the API), that each
action goes through the API's webhook services, the documents' filters by system, sync
status and dates, and a document's history. The browser drives the same pages in
tests/e2e/test_console_webhooks.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.console.webhooks_pages import DELIVERIES_SHOWN
from invoicesync_api.webhooks.delivery import WebhookDispatcher
from invoicesync_shared.crypto import SecretBox
from tests.integration.api.conftest import add_integration, invoice, new_partner
from tests.integration.api.test_console import csrf_of, key_of, numbers_on, signed_in
from tests.integration.api.test_webhooks import (
    SETTINGS,
    _webhooks_app,
    create_endpoint,
    deliveries,
    publish_to,
)
from tests.support.servers import serve_in_thread
from tests.support.webhooks import Receiver, ShiftedClock


@pytest.fixture(scope="module")
def hooks_url(database_url: str, encryption_key: str) -> Iterator[str]:
    """An API that accepts receivers on loopback, as under make run."""
    with serve_in_thread(_webhooks_app(database_url, encryption_key, SETTINGS)) as url:
        yield url


@pytest.fixture
def admin(hooks_url: str) -> Iterator[httpx.Client]:
    with new_partner(hooks_url, "Console hooks") as client:
        yield client
        for endpoint in client.get("/v1/webhook-endpoints").json():
            client.delete(f"/v1/webhook-endpoints/{endpoint['id']}")


@pytest.fixture
def dispatcher(
    sessionmaker: async_sessionmaker[AsyncSession], secret_box: SecretBox
) -> WebhookDispatcher:
    return WebhookDispatcher(sessionmaker, secret_box, SETTINGS, clock=ShiftedClock())


def key_with(partner: httpx.Client, *scopes: str) -> str:
    created = partner.post("/v1/api-keys", json={"name": "console", "scopes": list(scopes)})
    assert created.status_code == 201, created.text
    return str(created.json()["api_key"])


def secret_on(html: str) -> str:
    found = re.search(r'<code id="new-secret">(whsec_[^<]+)</code>', html)
    assert found, html
    return found[1]


async def test_only_an_admin_key_changes_webhooks_and_others_see_no_actions(
    hooks_url: str,
    admin: httpx.Client,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
    dispatcher: WebhookDispatcher,
) -> None:
    endpoint = create_endpoint(admin, receiver, ["document.booked"])
    await publish_to(sessionmaker, endpoint["id"])
    await dispatcher.deliver_due()
    [delivery] = deliveries(admin, endpoint["id"])
    base = f"/console/webhooks/{endpoint['id']}"
    actions = [
        ("/console/webhooks", {"url": receiver.url, "events": ["*"]}),
        (f"{base}/disable", {}),
        (f"{base}/enable", {}),
        (f"{base}/rotate-secret", {}),
        (f"{base}/deliveries/{delivery['id']}/replay", {}),
    ]
    for scopes in (("read",), ("read", "write")):
        with signed_in(hooks_url, key_with(admin, *scopes)) as page:
            shown = page.get("/console/webhooks")
            assert shown.status_code == 200 and receiver.url in shown.text
            assert f'data-delivery="{delivery["id"]}"' in shown.text
            assert 'data-status-code="200"' in shown.text  # the attempt, for readers too
            assert "data-action=" not in shown.text.split("<main", 1)[1]
            csrf = csrf_of(shown.text)
            for url, form in actions:
                refused = page.post(url, data={"csrf": csrf, **form})
                assert refused.status_code == 403 and "admin scope" in refused.text, url
    assert len(admin.get("/v1/webhook-endpoints").json()) == 1
    assert deliveries(admin, endpoint["id"])[0]["attempts"] == 1
    with signed_in(hooks_url, key_of(admin)) as page:
        for url, form in actions:
            assert page.post(url, data={"csrf": "forged", **form}).status_code == 403, url


async def test_an_admin_creates_disables_rotates_and_replays_through_the_api_services(
    hooks_url: str,
    admin: httpx.Client,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
    dispatcher: WebhookDispatcher,
) -> None:
    with signed_in(hooks_url, key_of(admin)) as page:
        csrf = csrf_of(page.get("/console/webhooks").text)
        nothing = page.post("/console/webhooks", data={"csrf": csrf, "url": receiver.url})
        assert nothing.status_code == 422 and "Choose at least one event." in nothing.text
        refused = page.post(
            "/console/webhooks",
            data={"csrf": csrf, "url": "ftp://example.com/x", "events": ["*"]},
        )
        assert refused.status_code == 422 and "must start with https://" in refused.text

        created = page.post(
            "/console/webhooks",
            data={"csrf": csrf, "url": receiver.url, "events": ["document.booked"]},
        )
        assert created.status_code == 201, created.text
        receiver.secret = secret_on(created.text)  # the receiver verifies with it
        [endpoint] = admin.get("/v1/webhook-endpoints").json()
        assert endpoint["url"] == receiver.url and endpoint["events"] == ["document.booked"]
        assert receiver.secret not in page.get("/console/webhooks").text  # shown once

        await publish_to(sessionmaker, endpoint["id"])
        await dispatcher.deliver_due()
        assert receiver.statuses == [200]  # signed with the secret the page showed
        [delivery] = deliveries(admin, endpoint["id"])
        base = f"/console/webhooks/{endpoint['id']}"

        replayed = page.post(f"{base}/deliveries/{delivery['id']}/replay", data={"csrf": csrf})
        assert replayed.status_code == 303 and replayed.headers["location"] == "/console/webhooks"
        await dispatcher.deliver_due()
        assert receiver.statuses == [200, 200]
        assert (
            receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]
        )
        shown = page.get("/console/webhooks").text
        assert f'data-delivery="{delivery["id"]}"' in shown and 'data-attempts="2"' in shown

        rotated = page.post(f"{base}/rotate-secret", data={"csrf": csrf})
        assert rotated.status_code == 200, rotated.text
        new_secret = secret_on(rotated.text)
        assert new_secret != receiver.secret
        assert admin.get(f"/v1/webhook-endpoints/{endpoint['id']}").json()[
            "previous_secret_expires_at"
        ]
        receiver.secret = new_secret
        await publish_to(sessionmaker, endpoint["id"])
        await dispatcher.deliver_due()
        assert receiver.statuses == [200, 200, 200]  # signed with the rotated secret too

        disabled = page.post(f"{base}/disable", data={"csrf": csrf})
        assert disabled.status_code == 303
        assert admin.get(f"/v1/webhook-endpoints/{endpoint['id']}").json()["status"] == "disabled"
        blocked = page.post(f"{base}/deliveries/{delivery['id']}/replay", data={"csrf": csrf})
        assert blocked.status_code == 409 and "disabled" in blocked.text
        assert page.post(f"{base}/enable", data={"csrf": csrf}).status_code == 303
        assert admin.get(f"/v1/webhook-endpoints/{endpoint['id']}").json()["status"] == "enabled"

    with new_partner(hooks_url, "Other") as other, signed_in(hooks_url, key_of(other)) as page:
        foreign = page.post(
            f"{base}/disable", data={"csrf": csrf_of(page.get("/console/webhooks").text)}
        )
        assert foreign.status_code == 404 and "No such webhook endpoint." in foreign.text


async def test_documents_filter_by_system_sync_status_and_dates_and_show_the_payment(
    api_url: str, partner: httpx.Client, client_id: str, sessionmaker: Any, engine: Any
) -> None:
    exact = await add_integration(sessionmaker, client_id)  # start date 2026-01-01
    lexware = await add_integration(sessionmaker, client_id, system="lexware")
    ids = {}
    for number, day in (("F-1", "2026-03-01"), ("F-2", "2026-04-01"), ("F-3", "2026-05-01")):
        created = partner.post("/v1/invoices", json=invoice(client_id, number, issue_date=day))
        assert created.status_code == 201, created.text
        ids[number] = created.json()["id"]
    async with engine.begin() as connection:  # as the connectors' answers leave them
        await connection.execute(
            text(
                "UPDATE document_syncs SET status = 'booked', booking_number = '900',"
                " payment_status = 'paid' WHERE document_id = :id AND integration_id = :i"
            ),
            {"id": ids["F-1"], "i": exact},
        )
        await connection.execute(
            text("DELETE FROM document_syncs WHERE document_id = :id AND integration_id = :i"),
            {"id": ids["F-3"], "i": lexware},
        )
        await connection.execute(
            text("DELETE FROM document_syncs WHERE document_id = :id AND integration_id = :i"),
            {"id": ids["F-2"], "i": exact},
        )
    documents = f"/console/clients/{client_id}/documents"
    with signed_in(api_url, key_of(partner)) as page:
        everything = page.get(documents).text
        assert numbers_on(everything) == ["F-3", "F-2", "F-1"]
        assert 'data-payment="paid"' in everything and ">Paid</td>" in everything

        def listed(**params: str) -> list[str]:
            answer = page.get(documents, params=params)
            assert answer.status_code == 200, answer.text
            return numbers_on(answer.text)

        assert listed(status="booked") == ["F-1"]
        assert listed(system="lexware") == ["F-2", "F-1"]
        assert listed(system="exact") == ["F-3", "F-1"]
        assert listed(issued_from="2026-04-01") == ["F-3", "F-2"]
        assert listed(issued_from="2026-03-15", issued_to="2026-04-15") == ["F-2"]
        assert listed(issued_from="", issued_to="", system="", status="") == ["F-3", "F-2", "F-1"]
        kept = page.get(documents, params={"system": "exact", "issued_to": "2026-04-30"}).text
        assert 'value="2026-04-30"' in kept and '<option value="exact" selected' in kept
        wrong = page.get(documents, params={"issued_from": "yesterday"})
        assert wrong.status_code == 422 and wrong.headers["content-type"].startswith("text/html")


async def test_a_documents_history_tells_its_pushes_outcomes_and_payment(
    api_url: str, partner: httpx.Client, client_id: str, sessionmaker: Any, engine: Any
) -> None:
    exact = await add_integration(sessionmaker, client_id)
    created = partner.post("/v1/invoices", json=invoice(client_id, "H-1"))
    assert created.status_code == 201, created.text
    document_id = created.json()["id"]
    async with engine.begin() as connection:  # as the Exact connector and the API leave it
        await connection.execute(
            text("UPDATE documents SET created_at = now() - interval '3 hours' WHERE id = :id"),
            {"id": document_id},
        )
        await connection.execute(
            text(
                "INSERT INTO connector_ledger (integration_id, document_id, generation, system,"
                " state, reference, revision, attempts, last_error, created_at, updated_at) VALUES"
                " (:i, :id, 0, 'exact', 'failed', 'H-1', 0, 1, 'Journal 70 is closed',"
                " now() - interval '2 hours', now() - interval '2 hours'),"
                " (:i, :id, 1, 'exact', 'booked', 'H-1', 0, 2, NULL,"
                " now() - interval '1 hour', now() - interval '1 hour')"
            ),
            {"i": exact, "id": document_id},
        )
        await connection.execute(
            text(
                "UPDATE connector_ledger SET booking_number = '26700042', sent_at = updated_at"
                " WHERE document_id = :id AND generation = 1"
            ),
            {"id": document_id},
        )
        await connection.execute(
            text(
                "UPDATE document_syncs SET status = 'booked', booking_number = '26700042',"
                " payment_status = 'paid', generation = 1 WHERE document_id = :id"
            ),
            {"id": document_id},
        )
    history = f"/console/documents/{document_id}/history"
    with signed_in(api_url, key_with(partner, "read")) as page:
        shown = page.get(history)
        assert shown.status_code == 200, shown.text
        events = re.findall(r'data-event="(\w+)"', shown.text)
        assert events[:6] == ["received", "pushed", "refused", "pushed_again", "retried", "booked"]
        assert {"state", "payment"} <= set(events[6:])
        assert "Refused by Exact Online" in shown.text and "Journal 70 is closed" in shown.text
        assert "Booked in Exact Online as 26700042" in shown.text
        assert "Payment in Exact Online: Paid" in shown.text
        listing = page.get(f"/console/clients/{client_id}/documents").text
        assert f'href="{history}?kind=invoice"' in listing
        assert page.get(history, params={"kind": "credit_note"}).status_code == 404
    with new_partner(api_url, "Other") as other, signed_in(api_url, key_of(other)) as page:
        foreign = page.get(history)
        assert foreign.status_code == 404 and "text/html" in foreign.headers["content-type"]


@pytest.fixture
def page_reads() -> Iterator[list[str]]:
    """The SELECT statements run, from any engine (the served app's too)."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    yield seen
    event.remove(Engine, "before_cursor_execute", note)


def reading(statements: list[str], table: str) -> list[str]:
    return [s for s in statements if re.search(rf"\bFROM {table}\b", s)]


async def test_the_page_reads_deliveries_and_attempts_of_all_endpoints_in_one_statement_each(
    hooks_url: str,
    admin: httpx.Client,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
    dispatcher: WebhookDispatcher,
    page_reads: list[str],
) -> None:
    """Three endpoints: one with more deliveries than the page shows (the newest ten),
    one with three, one with none."""
    booked = create_endpoint(admin, receiver, ["document.booked"])
    quiet = create_endpoint(admin, receiver, ["sync_run.finished"])
    failed = create_endpoint(admin, receiver, ["document.sync_failed"])  # the receiver's secret
    for _ in range(3):
        await publish_to(sessionmaker, failed["id"], "document.sync_failed")
    await dispatcher.deliver_due()
    for n in range(12):
        await publish_to(sessionmaker, booked["id"], data={"n": n})
    assert len(deliveries(admin, failed["id"])) == 3
    newest = [d["id"] for d in deliveries(admin, booked["id"])][:DELIVERIES_SHOWN]
    with signed_in(hooks_url, key_of(admin)) as page:
        page_reads.clear()
        shown = page.get("/console/webhooks")
    assert shown.status_code == 200
    sections = {
        m[1]: m[2]
        for m in re.finditer(
            r'<section class="endpoint" data-endpoint="([^"]+)"(.*?)</section>', shown.text, re.S
        )
    }
    assert re.findall(r'data-delivery="([^"]+)"', sections[booked["id"]]) == newest
    assert len(re.findall(r"data-delivery=", sections[failed["id"]])) == 3
    assert sections[failed["id"]].count('data-status-code="200"') == 3  # every attempt
    assert "data-delivery=" not in sections[quiet["id"]]
    assert len(reading(page_reads, "webhook_deliveries")) == 1, page_reads
    assert len(reading(page_reads, "webhook_attempts")) == 1, page_reads


async def test_why_an_endpoint_is_disabled_is_shown_in_the_readers_language(
    hooks_url: str,
    admin: httpx.Client,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The reason is stored in English (as the API stores it) and translated when shown,
    with its parameters, as ``GET /v1/webhook-endpoints`` answers it."""
    by_hand = create_endpoint(admin, receiver, ["document.booked"])
    failing = create_endpoint(admin, receiver, ["document.sent"])
    german = {"Accept-Language": "de"}
    with signed_in(hooks_url, key_of(admin)) as page:
        csrf = csrf_of(page.get("/console/webhooks").text)
        disabled = page.post(f"/console/webhooks/{by_hand['id']}/disable", data={"csrf": csrf})
        assert disabled.status_code == 303
        async with sessionmaker.begin() as session:
            await session.execute(
                text(
                    "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = "
                    "'5 deliveries in a row failed after all their attempts.' WHERE id = :id"
                ),
                {"id": failing["id"]},
            )
        shown = page.get("/console/webhooks", headers=german).text
        stored = admin.get(f"/v1/webhook-endpoints/{by_hand['id']}").json()
        assert stored["disabled_reason"] == "Disabled by the partner."
    reasons = dict(
        re.findall(
            r'data-endpoint="([^"]+)" data-status="disabled".*?data-disabled-reason>([^<]+)<',
            shown,
            re.S,
        )
    )
    assert reasons == {
        by_hand["id"]: "Vom Partner deaktiviert.",
        failing["id"]: "5 Zustellungen in Folge sind nach allen Versuchen fehlgeschlagen.",
    }
