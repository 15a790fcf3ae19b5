"""The console's session and pages over HTTP (issue 23): the cookie's flags and seal, the
key checked on every page as the API checks it, the failed-authentication slow-down on
the sign-in form, forms refused without the session's token or the write scope, and the
clients' search and keyset pages. The browser drives the same pages in
tests/e2e/test_console.py."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from invoicesync_api.app import create_app
from invoicesync_api.console import session
from invoicesync_api.console.router import INBOX_DOCUMENTS_SHOWN, PAGE_SIZE
from invoicesync_api.settings import ApiSettings
from tests.integration.api.conftest import ADMIN_TOKEN, add_integration, invoice, new_partner
from tests.integration.api.test_purchase_documents import purchase
from tests.integration.api.test_sync_runs import booked, deliver
from tests.support.servers import serve_in_thread

FAILURE_BURST = 3


@pytest.fixture(scope="module")
def slow_url(database_url: str, encryption_key: str) -> Iterator[str]:
    """An API whose failed-authentication slow-down is small enough to reach."""
    settings = ApiSettings(
        database_url=SecretStr(database_url),
        encryption_keys=SecretStr(encryption_key),
        admin_token=SecretStr(ADMIN_TOKEN),
        run_workers=False,
        auth_failures_per_minute=6,
        auth_failures_burst=FAILURE_BURST,
    )
    with serve_in_thread(create_app(settings)) as url:
        yield url


def key_of(partner: httpx.Client) -> str:
    return partner.headers["Authorization"].removeprefix("Bearer ")


def browser(url: str, address: str = "127.0.0.1") -> httpx.Client:
    """A client that keeps cookies like a browser and does not follow redirects."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=url, transport=transport, timeout=30)


@contextmanager
def signed_in(url: str, key: str) -> Iterator[httpx.Client]:
    with browser(url) as page:
        answer = page.post("/console/sign-in", data={"api_key": key})
        assert answer.status_code == 303, answer.text
        yield page


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found[1]


def test_the_session_cookie_is_sealed_http_only_lax_and_secure_off_loopback(
    api_url: str, partner: httpx.Client
) -> None:
    key = key_of(partner)
    with browser(api_url) as page:
        answer = page.post("/console/sign-in", data={"api_key": key})
        assert answer.status_code == 303 and answer.headers["location"] == "/console/clients"
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(f"{session.COOKIE}=")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
        assert "Secure" not in cookie  # plain http to 127.0.0.1: make run
        assert key not in cookie and key[-12:] not in cookie
        assert page.get("/console/clients").status_code == 200
        bell = page.get("/console/bell", headers={"HX-Request": "true"})  # htmx refreshes it
        assert bell.status_code == 200 and 'data-unread="0"' in bell.text
    # The same app reached by a name that is not loopback: the cookie is Secure.
    with browser(api_url) as page:
        answer = page.post(
            "/console/sign-in", data={"api_key": key}, headers={"Host": "console.example.com"}
        )
        assert answer.status_code == 303
        assert "Secure" in answer.headers["set-cookie"]


def test_no_session_or_a_forged_one_goes_to_the_form(api_url: str, partner: httpx.Client) -> None:
    with browser(api_url) as page:
        answer = page.get("/console/clients")
        assert answer.status_code == 303 and answer.headers["location"] == "/console/sign-in"
        page.cookies.set(session.COOKIE, "gAAAAAforged", path="/console")
        assert page.get("/console/clients").headers["location"] == "/console/sign-in"
        htmx = page.get("/console/clients", headers={"HX-Request": "true"})
        assert htmx.headers["HX-Redirect"] == "/console/sign-in"


def test_a_wrong_key_gets_the_form_with_an_error_and_is_slowed_down(slow_url: str) -> None:
    address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"
    with browser(slow_url, address) as page:
        for _ in range(FAILURE_BURST):
            refused = page.post("/console/sign-in", data={"api_key": "isk_" + "x" * 43})
            assert refused.status_code == 401
            assert 'role="alert"' in refused.text and "unknown or revoked" in refused.text
            assert 'aria-invalid="true"' in refused.text
            assert "set-cookie" not in refused.headers
        slowed = page.post("/console/sign-in", data={"api_key": "isk_" + "y" * 43})
        assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) >= 1
        assert "Too many attempts" in slowed.text


def test_a_revoked_key_ends_the_session(api_url: str, partner: httpx.Client) -> None:
    created = partner.post("/v1/api-keys", json={"name": "console", "scopes": ["read", "write"]})
    assert created.status_code == 201, created.text
    with signed_in(api_url, created.json()["api_key"]) as page:
        assert page.get("/console/clients").status_code == 200
        assert partner.delete(f"/v1/api-keys/{created.json()['id']}").status_code == 204
        ended = page.get("/console/clients")
        assert ended.status_code == 303
        assert ended.headers["location"] == "/console/sign-in?ended=1"
        assert f'{session.COOKIE}=""' in ended.headers["set-cookie"]  # the cookie is cleared


def test_forms_need_the_session_token_and_the_write_scope(
    api_url: str, partner: httpx.Client
) -> None:
    reader = partner.post("/v1/api-keys", json={"name": "dashboard", "scopes": ["read"]})
    assert reader.status_code == 201, reader.text
    target = "/console/notifications/00000000-0000-4000-8000-000000000000/read"
    with signed_in(api_url, reader.json()["api_key"]) as page:
        csrf = csrf_of(page.get("/console/notifications").text)
        refused = page.post(target, data={"csrf": csrf})
        assert refused.status_code == 403 and "may only read" in refused.text
    with signed_in(api_url, key_of(partner)) as page:
        assert page.post(target, data={"csrf": "forged"}).status_code == 403
        csrf = csrf_of(page.get("/console/notifications").text)
        missing = page.post(target, data={"csrf": csrf})
        assert missing.status_code == 404 and "No such notification" in missing.text
        assert missing.headers["content-type"].startswith("text/html")


def test_clients_are_searched_by_name_and_paged_without_overlap(api_url: str) -> None:
    with new_partner(api_url, "Many clients") as partner:
        names = [f"Bakkerij {n:02d}" for n in range(PAGE_SIZE + 2)] + ["Slagerij 100% Vers"]
        for name in names:
            assert partner.post("/v1/clients", json={"name": name}).status_code == 201
        with signed_in(api_url, key_of(partner)) as page:
            first = page.get("/console/clients")
            shown = re.findall(
                r'<a href="/console/clients/[^"]+/documents">([^<]+)</a>', first.text
            )
            assert len(shown) == PAGE_SIZE
            next_url = re.search(r'<a href="(/console/clients\?[^"]+)" rel="next"', first.text)
            assert next_url, first.text
            second = page.get(next_url[1].replace("&amp;", "&"))
            rest = re.findall(
                r'<a href="/console/clients/[^"]+/documents">([^<]+)</a>', second.text
            )
            assert sorted(shown + rest) == sorted(names) and 'rel="next"' not in second.text
            found = page.get("/console/clients", params={"q": "100%"})
            hits = re.findall(r'<a href="/console/clients/[^"]+/documents">([^<]+)</a>', found.text)
            assert hits == ["Slagerij 100% Vers"]  # % is a character here, not a wildcard
            found = page.get("/console/clients", params={"q": "bakkerij 1"})
            hits = re.findall(r'<a href="/console/clients/[^"]+/documents">([^<]+)</a>', found.text)
            assert sorted(hits) == [f"Bakkerij {n}" for n in range(10, 20)]


def numbers_on(html: str) -> list[str]:
    return re.findall(r'<tr data-document="[^"]+" data-number="([^"]+)">', html)


def test_documents_come_in_pages_and_a_foreign_client_is_not_found(api_url: str) -> None:
    with new_partner(api_url, "Paged") as partner:
        client_id = partner.post("/v1/clients", json={"name": "Paged client"}).json()["id"]
        numbers = [f"P-{n:03d}" for n in range(PAGE_SIZE + 1)]
        for number in numbers:
            created = partner.post("/v1/invoices", json=invoice(client_id, number))
            assert created.status_code == 201, created.text
        with signed_in(api_url, key_of(partner)) as page:
            first = page.get(f"/console/clients/{client_id}/documents")
            assert len(numbers_on(first.text)) == PAGE_SIZE
            next_url = re.search(r'<a href="\?([^"]+)" rel="next"', first.text)
            assert next_url, first.text
            second = page.get(
                f"/console/clients/{client_id}/documents?{next_url[1].replace('&amp;', '&')}"
            )
            assert sorted(numbers_on(first.text) + numbers_on(second.text)) == numbers
        with new_partner(api_url, "Other") as other, signed_in(api_url, key_of(other)) as page:
            foreign = page.get(f"/console/clients/{client_id}/documents")
            assert foreign.status_code == 404 and "No such client." in foreign.text
            assert foreign.headers["content-type"].startswith("text/html")


def test_purchase_documents_have_their_tab_and_history(
    api_url: str, partner: httpx.Client, client_id: str
) -> None:
    """Every kind the API takes has its tab: the inbox links a failed purchase document
    to its client's documents of that kind, and its history opens."""
    created = partner.post("/v1/purchase-invoices", json=purchase(client_id, "AP-7"))
    assert created.status_code == 201, created.text
    with signed_in(api_url, key_of(partner)) as page:
        documents = f"/console/clients/{client_id}/documents"
        tab = page.get(documents, params={"kind": "purchase_invoice"})
        assert tab.status_code == 200, tab.text
        assert numbers_on(tab.text) == ["AP-7"] and "Purchase invoices" in tab.text
        assert numbers_on(page.get(documents, params={"kind": "invoice"}).text) == []
        history = page.get(
            f"/console/documents/{created.json()['id']}/history",
            params={"kind": "purchase_invoice"},
        )
        assert history.status_code == 200, history.text


async def test_health_counts_and_the_failed_filter(
    api_url: str, partner: httpx.Client, client_id: str, sessionmaker: Any
) -> None:
    await add_integration(sessionmaker, client_id)  # active, start date 2026-01-01
    early = partner.post("/v1/invoices", json=invoice(client_id, "E-1", issue_date="2025-12-01"))
    later = partner.post("/v1/invoices", json=invoice(client_id, "L-1"))
    assert early.status_code == 201 and later.status_code == 201
    with signed_in(api_url, key_of(partner)) as page:
        clients = page.get("/console/clients").text
        assert 'data-health="sending"' in clients  # L-1 is pending: no connector runs here
        assert "Not synced: 2" in clients and "Failed: 1" in clients
        documents = f"/console/clients/{client_id}/documents"
        assert numbers_on(page.get(documents, params={"show": "failed"}).text) == ["E-1"]
        assert numbers_on(page.get(documents, params={"show": "not_synced"}).text) == [
            "L-1",
            "E-1",
        ]
        assert numbers_on(page.get(documents, params={"kind": "credit_note"}).text) == []


async def test_retry_sends_a_failed_document_again_and_comes_back(
    api_url: str, partner: httpx.Client, client_id: str, sessionmaker: Any, engine: Any
) -> None:
    await add_integration(sessionmaker, client_id)
    created = partner.post("/v1/invoices", json=invoice(client_id, "R-1"))
    assert created.status_code == 201, created.text
    document_id = created.json()["id"]
    outbox = text("SELECT count(*) FROM outbox_messages WHERE envelope::text LIKE :id")
    async with engine.begin() as connection:  # as the connector's answer would leave it
        await connection.execute(
            text(
                "UPDATE document_syncs SET status = 'failed', error_code = 'unavailable',"
                " error_message = 'Exact is down', error_retryable = true"
                " WHERE document_id = :id"
            ),
            {"id": document_id},
        )
        before = (await connection.execute(outbox, {"id": f"%{document_id}%"})).scalar_one()
    with signed_in(api_url, key_of(partner)) as page:
        documents = f"/console/clients/{client_id}/documents"
        shown = page.get(documents).text
        assert "Exact is down" in shown and 'data-action="retry"' in shown
        csrf = csrf_of(shown)
        wrong_kind = page.post(
            f"/console/documents/{document_id}/retry", data={"csrf": csrf, "kind": "credit_note"}
        )
        assert wrong_kind.status_code == 404  # not a credit note: checked as in the API
        retried = page.post(
            f"/console/documents/{document_id}/retry", data={"csrf": csrf, "kind": "invoice"}
        )
        assert retried.status_code == 303, retried.text
        assert retried.headers["location"] == f"{documents}?kind=invoice"
    async with engine.connect() as connection:
        after = (await connection.execute(outbox, {"id": f"%{document_id}%"})).scalar_one()
    assert after == before + 1  # one more sync request for its integration
    assert partner.get(f"/v1/invoices/{document_id}").json()["sync"][0]["status"] == "pending"


async def test_the_console_speaks_the_readers_language(api_url: str, sessionmaker: Any) -> None:
    """The switch's cookie, else Accept-Language, else the partner's default language."""
    dutch = {"Accept-Language": "nl-BE, nl;q=0.9, en;q=0.5"}
    with new_partner(api_url, "Talen") as partner:
        client_id = partner.post("/v1/clients", json={"name": "Bakkerij Taal"}).json()["id"]
        await add_integration(sessionmaker, client_id)
        assert partner.post("/v1/invoices", json=invoice(client_id, "T-1")).status_code == 201
        documents = f"/console/clients/{client_id}/documents"
        with browser(api_url) as page:
            form = page.get("/console/sign-in", headers=dutch)
            assert '<html lang="nl">' in form.text and ">Inloggen</button>" in form.text
            assert (
                page.post(
                    "/console/sign-in", data={"api_key": key_of(partner)}, headers=dutch
                ).status_code
                == 303
            )
            shown = page.get(documents, headers=dutch)
            assert '<html lang="nl">' in shown.text and shown.headers["content-language"] == "nl"
            assert "Boekingsnummer (Exact Online)" in shown.text
            assert ">Documentdatum</th>" in shown.text and ">Facturen</a>" in shown.text
            assert "Booking number" not in shown.text and "Issue date" not in shown.text

            # No Accept-Language: the partner's default language.
            assert '<html lang="en">' in page.get(documents).text
            changed = partner.patch("/v1/partner", json={"language": "de"})
            assert changed.status_code == 200, changed.text
            german = page.get(documents)
            assert (
                '<html lang="de">' in german.text and "Buchungsnummer (Exact Online)" in german.text
            )

            # The switch wins over both, and leads back to the page it was used on.
            switched = page.post(
                "/console/language", data={"language": "fr", "back": documents}, headers=dutch
            )
            assert switched.status_code == 303 and switched.headers["location"] == documents
            french = page.get(documents, headers=dutch)
            assert '<html lang="fr">' in french.text and french.headers["content-language"] == "fr"
            assert "Numéro d&#39;écriture (Exact Online)" in french.text

            # Only back to a console page; a language we do not speak is refused.
            away = page.post(
                "/console/language", data={"language": "de", "back": "//evil.example/console/"}
            )
            assert away.headers["location"] == "/console/clients"
            up = page.post(
                "/console/language", data={"language": "de", "back": "/console/../v1/clients"}
            )
            assert up.headers["location"] == "/console/clients"
            unknown = page.post("/console/language", data={"language": "pt", "back": documents})
            assert unknown.status_code == 422 and 'lang="de"' in unknown.text


def progress_of(html: str) -> str:
    found = re.search(r'<section id="run-progress" data-status="(\w+)"', html)
    assert found, html
    return found[1]


async def test_send_to_accounting_starts_a_run_and_polls_its_progress_until_finished(
    api_url: str, partner: httpx.Client, client_id: str, sessionmaker: Any
) -> None:
    integration = await add_integration(sessionmaker, client_id)
    ids = [
        partner.post("/v1/invoices", json=invoice(client_id, f"S-{n}")).json()["id"]
        for n in range(3)
    ]
    reader = partner.post("/v1/api-keys", json={"name": "viewer", "scopes": ["read"]})
    with signed_in(api_url, reader.json()["api_key"]) as page:
        shown = page.get(f"/console/clients/{client_id}/documents").text
        assert 'data-action="send"' not in shown and 'name="document_ids"' not in shown
        refused = page.post(
            f"/console/clients/{client_id}/send", data={"csrf": csrf_of(shown), "document_ids": ids}
        )
        assert refused.status_code == 403 and "may only read" in refused.text
    with signed_in(api_url, key_of(partner)) as page:
        documents = f"/console/clients/{client_id}/documents"
        shown = page.get(documents).text
        assert shown.count('name="document_ids"') == 3 and 'data-action="send"' in shown
        csrf = csrf_of(shown)
        nothing = page.post(f"/console/clients/{client_id}/send", data={"csrf": csrf})
        assert nothing.status_code == 422 and "Choose at least one document" in nothing.text

        sent = page.post(
            f"/console/clients/{client_id}/send", data={"csrf": csrf, "document_ids": ids[:2]}
        )
        assert sent.status_code == 303, sent.text
        run_url = sent.headers["location"]
        run_id = run_url.rsplit("/", 1)[1]
        assert partner.get(f"/v1/sync-runs/{run_id}").json()["totals"]["documents_total"] == 2
        again = page.post(
            f"/console/clients/{client_id}/send", data={"csrf": csrf, "document_ids": ids[2:]}
        )
        assert again.status_code == 409 and "already going" in again.text

        running = page.get(run_url).text
        assert progress_of(running) == "running"
        assert f'hx-get="{run_url}/progress" hx-trigger="every 1s"' in running
        assert numbers_on(running) == ["S-0", "S-1"]  # the run's documents, not S-2
        assert "Sending: 0 of 2 done." in running

        await deliver(sessionmaker, booked(ids[0], integration, run_id, "26700101"))
        half = page.get(f"{run_url}/progress", headers={"HX-Request": "true"}).text
        assert progress_of(half) == "running" and "Sending: 1 of 2 done." in half
        assert "26700101" in half and 'hx-trigger="every 1s"' in half
        assert 'hx-swap-oob="true"' in half and 'data-unread="0"' in half

        await deliver(sessionmaker, booked(ids[1], integration, run_id, "26700102"))
        done = page.get(f"{run_url}/progress", headers={"HX-Request": "true"}).text
        assert progress_of(done) == "finished" and "Finished: 2 of 2 done." in done
        assert 'hx-trigger="every' not in done.split('id="bell"')[0]  # polling stops
        assert "26700102" in done and 'data-unread="1"' in done  # the run's notification


def causes_on(html: str) -> list[str]:
    return [
        f"{cause} {system}"
        for cause, system in re.findall(
            r'<section class="problem" data-cause="([^"]+)" data-system="([^"]+)"', html
        )
    ]


async def test_the_inbox_groups_problems_of_all_clients_by_cause_with_the_fix(
    api_url: str, sessionmaker: Any, engine: Any
) -> None:
    with new_partner(api_url, "Inbox") as partner:
        bakery = partner.post("/v1/clients", json={"name": "Bakkerij Inbox"}).json()["id"]
        butcher = partner.post("/v1/clients", json={"name": "Slagerij Inbox"}).json()["id"]
        await add_integration(sessionmaker, bakery)
        exact = await add_integration(sessionmaker, butcher)
        lexware = await add_integration(
            sessionmaker, butcher, system="lexware", status="needs_reauthorization"
        )
        for owner, number in ((bakery, "B-1"), (butcher, "S-1")):  # before the start date
            early = invoice(owner, number, issue_date="2025-12-01")
            assert partner.post("/v1/invoices", json=early).status_code == 201
        refused = partner.post("/v1/invoices", json=invoice(butcher, "S-2")).json()["id"]
        async with engine.begin() as connection:  # as the connector's answers leave them
            await connection.execute(
                text(
                    "UPDATE document_syncs SET status = 'failed', error_code = 'unknown_vat_code',"
                    " error_message = 'No VAT code for 9 %' WHERE document_id = :id"
                    " AND integration_id = :integration"
                ),
                {"id": refused, "integration": exact},
            )
            await connection.execute(
                text(
                    "UPDATE integrations SET status = 'paused',"
                    " failure_streak_code = 'unknown_vat_code' WHERE id = :id"
                ),
                {"id": exact},
            )
        with signed_in(api_url, key_of(partner)) as page:
            shown = page.get("/console/inbox").text
            # Most held-up documents first; the integrations join their cause.
            assert causes_on(shown) == [
                "before_start_date exact",  # B-1 and S-1
                "unknown_vat_code exact",  # S-2, and the integration it paused
                "before_start_date lexware",  # S-1 (Lexware still takes documents to send)
                "needs_reauthorization lexware",
            ]
            sections = dict(
                zip(causes_on(shown), shown.split('<section class="problem"')[1:], strict=True)
            )
            dated = sections["before_start_date exact"]
            assert "2 documents are held up by this." in dated
            assert "Bakkerij Inbox" in dated and "Slagerij Inbox" in dated
            assert "To book it in Exact Online, move the integration&#39;s start date" in dated
            vat = sections["unknown_vat_code exact"]
            assert "has no VAT code for a rate on this document" in vat
            assert numbers_on_inbox(vat) == ["S-2"] and 'data-action="resume"' in vat
            access = sections["needs_reauthorization lexware"]
            assert "no longer accepts invoicesync" in access and 'data-action="reconnect"' in access

            german = page.get("/console/inbox", headers={"Accept-Language": "de"}).text
            assert "2 Belege werden dadurch aufgehalten." in german
            assert "Startdatum" in german

            csrf = csrf_of(shown)
            retried = page.post(
                f"/console/documents/{refused}/retry",
                data={"csrf": csrf, "kind": "invoice", "back": "inbox"},
            )
            assert retried.status_code == 303 and retried.headers["location"] == "/console/inbox"
            assert "unknown_vat_code exact" in causes_on(page.get("/console/inbox").text)  # paused
            reconnect = page.post(f"/console/integrations/{lexware}/reconnect", data={"csrf": csrf})
            assert reconnect.status_code == 303, reconnect.text
            assert "state=" in reconnect.headers["location"]

        writer = partner.post("/v1/api-keys", json={"name": "clerk", "scopes": ["read", "write"]})
        with signed_in(api_url, writer.json()["api_key"]) as page:
            shown = page.get("/console/inbox").text
            assert 'data-action="retry"' in shown
            assert 'data-action="reconnect"' not in shown and 'data-action="resume"' not in shown
            refused_page = page.post(
                f"/console/integrations/{exact}/resume", data={"csrf": csrf_of(shown)}
            )
            assert refused_page.status_code == 403 and "admin scope" in refused_page.text


def numbers_on_inbox(html: str) -> list[str]:
    return re.findall(r'<tr data-document="[^"]+" data-number="([^"]+)">', html)


async def test_the_inbox_shows_the_newest_failures_of_each_cause_and_counts_them_all(
    api_url: str, sessionmaker: Any, engine: Any
) -> None:
    """One statement ranks every cause's failures: the newest INBOX_DOCUMENTS_SHOWN of each,
    newest first, the count over all of them, and never another partner's."""
    shown_count = INBOX_DOCUMENTS_SHOWN
    with new_partner(api_url, "Ranked") as partner, new_partner(api_url, "Other") as other:
        client = partner.post("/v1/clients", json={"name": "Ranked BV"}).json()["id"]
        foreign = other.post("/v1/clients", json={"name": "Foreign BV"}).json()["id"]
        exact = await add_integration(sessionmaker, client)
        lexware = await add_integration(sessionmaker, client, system="lexware")
        foreign_exact = await add_integration(sessionmaker, foreign)
        numbers = [f"R-{n:02d}" for n in range(shown_count + 3)]
        for number in numbers:  # oldest first
            assert partner.post("/v1/invoices", json=invoice(client, number)).status_code == 201
        assert other.post("/v1/invoices", json=invoice(foreign, "F-1")).status_code == 201
        async with engine.begin() as connection:  # as the connector's answers leave them
            await connection.execute(
                text(
                    "UPDATE document_syncs s SET status = 'failed', error_code = 'period_closed',"
                    " error_message = 'Closed', answered_at = d.created_at FROM documents d"
                    " WHERE d.id = s.document_id AND s.integration_id IN (:exact, :foreign)"
                ),
                {"exact": exact, "foreign": foreign_exact},
            )
            await connection.execute(
                text(
                    "UPDATE document_syncs SET status = 'failed', error_code = NULL,"
                    " error_message = 'Something odd' WHERE integration_id = :lexware"
                    " AND document_id = (SELECT id FROM documents WHERE number = 'R-00'"
                    " AND client_id = :client)"
                ),
                {"lexware": lexware, "client": client},
            )
        with signed_in(api_url, key_of(partner)) as page:
            shown = page.get("/console/inbox").text
        causes = re.findall(r'<section class="problem" data-cause="([^"]*)" data-system="', shown)
        assert causes == ["period_closed", ""]  # most held up first; no code is a cause too
        closed, odd = shown.split('<section class="problem"')[1:]
        assert f"{len(numbers)} documents are held up by this." in closed
        assert numbers_on_inbox(closed) == numbers[::-1][:shown_count]
        assert "F-1" not in shown and "Foreign BV" not in shown
        assert 'data-system="lexware"' in odd and numbers_on_inbox(odd) == ["R-00"]
