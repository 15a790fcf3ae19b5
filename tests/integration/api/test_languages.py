"""The seed flows' messages read through the API in English, German, Dutch, Spanish and
French: a failed sync, the manual-run notification, a duplicate booking number, a
small-business Lexware account — and problem details, whose codes never change.

Results are applied as the result consumer applies them (``tests.integration.api.
test_sync_runs.deliver``); the language comes from ``Accept-Language`` or, without it,
from the partner's default (``PATCH /v1/partner``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connector_lexware.profile import SMALL_BUSINESS_MESSAGE
from invoicesync_api.db.models import Client, DocumentSync
from invoicesync_api.integrations.service import set_verdict
from invoicesync_api.integrations.verification import Verdict
from invoicesync_api.sync.results import ResultApplier
from invoicesync_api.webhooks.models import WebhookDelivery, WebhookEndpoint
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.events.integrations import IntegrationConnectionLost
from invoicesync_shared.events.reconciliations import (
    ReconciliationEntriesRead,
    ReconciliationRead,
    RemoteEntry,
)
from invoicesync_shared.events.results import SyncFailed
from tests.integration.api.conftest import EXACT_SETTINGS, add_integration, invoice
from tests.integration.api.test_sync_runs import booked, deliver

LANGUAGES = ("en", "de", "nl", "es", "fr")
VAT_MESSAGE = "No VAT code for 9 %."
# What each language must say, in its accounting words.
NO_VAT_CODE = {
    "de": "keinen Steuerschlüssel",
    "nl": "geen btw-code",
    "es": "no tiene un código de IVA",
    "fr": "n'a pas de code TVA",
}
RUN_FINISHED = {
    "de": ("Synchronisierung abgeschlossen, fehlgeschlagen: 1", "Belege übertragen: 2 von 3"),
    "nl": ("Synchronisatie voltooid, mislukt: 1", "Documenten gesynchroniseerd: 2 van 3"),
    "es": ("Sincronización finalizada, con error: 1", "Documentos sincronizados: 2 de 3"),
    "fr": ("Synchronisation terminée, en échec : 1", "Pièces synchronisées : 2 sur 3"),
}
DUPLICATE = {
    "en": "Booking number 26800001 was given to 2 documents",
    "de": "Buchungsnummer 26800001 wurde mehrfach vergeben (Belege: 2)",
    "nl": "Boekingsnummer 26800001 is meermaals uitgegeven (documenten: 2)",
    "es": "El número de registro 26800001 se asignó varias veces (documentos: 2)",
    "fr": "Le numéro d'écriture 26800001 a été attribué plusieurs fois (pièces : 2)",
}
SMALL_BUSINESS = {
    "de": "Lexware Office ist als Kleinunternehmer (ohne Umsatzsteuer) eingerichtet",
    "nl": "kleine ondernemer zonder btw",
    "es": "pequeña empresa sin IVA",
    "fr": "franchise en base de TVA",
}


def read(partner: httpx.Client, path: str, language: str, **params: Any) -> Any:
    response = partner.get(path, params=params, headers={"Accept-Language": language})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Language"] == language
    return response.json()


async def failed_run(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> tuple[str, list[str]]:
    """The seed's manual run: two documents booked, one refused for a missing VAT code."""
    integration = await add_integration(sessionmaker, client_id)
    docs = [
        partner.post("/v1/invoices", json=invoice(client_id, number=f"LANG-{n}")).json()["id"]
        for n in range(3)
    ]
    async with sessionmaker.begin() as session:
        await session.execute(
            update(DocumentSync)
            .where(DocumentSync.integration_id == integration)
            .values(status="failed", error_code="unavailable", error_retryable=True)
        )
    run_id = partner.post("/v1/sync-runs", json={"client_id": client_id}).json()["id"]
    await deliver(sessionmaker, booked(docs[0], integration, run_id, "26700001"))
    await deliver(sessionmaker, booked(docs[1], integration, run_id, "26700002"))
    await deliver(
        sessionmaker,
        SyncFailed(
            document_id=uuid.UUID(docs[2]),
            integration_id=integration,
            code="unknown_vat_code",
            message=VAT_MESSAGE,
            retryable=False,
            sync_run_id=uuid.UUID(run_id),
        ),
    )
    return run_id, docs


async def test_a_failed_sync_and_its_run_notification_in_five_languages(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    run_id, docs = await failed_run(partner, client_id, sessionmaker)
    english = read(partner, f"/v1/invoices/{docs[2]}", "en")["sync"][0]["error"]
    assert english == {"code": "unknown_vat_code", "message": VAT_MESSAGE, "retryable": False}
    (stored,) = [n for n in read(partner, "/v1/notifications", "en") if n["sync_run_id"] == run_id]
    assert stored["title"] == "Sync finished with 1 error"
    assert stored["body"] == "2 of 3 documents synced, 1 failed; 2 new customers created."

    for language, words in NO_VAT_CODE.items():
        error = read(partner, f"/v1/invoices/{docs[2]}", language)["sync"][0]["error"]
        assert error["code"] == "unknown_vat_code" and words in error["message"], error
        assert "Exact Online" in error["message"]
        (run_error,) = read(partner, f"/v1/sync-runs/{run_id}", language)["errors"]
        assert run_error["code"] == "unknown_vat_code" and words in run_error["message"]
        (notification,) = [
            n for n in read(partner, "/v1/notifications", language) if n["sync_run_id"] == run_id
        ]
        title, body = RUN_FINISHED[language]
        assert notification["kind"] == "sync_run_finished"
        assert notification["title"] == title and notification["body"].startswith(body)
        assert words in notification["errors"][0]["message"]
        assert notification["counts"] == stored["counts"]


async def test_a_duplicate_booking_number_in_five_languages(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration = await add_integration(sessionmaker, client_id)
    twins = [
        partner.post("/v1/invoices", json=invoice(client_id, number=n)).json()["id"]
        for n in ("DUP-1", "DUP-2")
    ]
    for twin in twins:
        await deliver(sessionmaker, booked(twin, integration, None, "26800001"))
    for language, title in DUPLICATE.items():
        (notice,) = [
            n
            for n in read(partner, "/v1/notifications", language, client_id=client_id)
            if n["kind"] == "duplicate_booking_number"
        ]
        assert notice["title"] == title
        assert f"/v1/integrations/{integration}/repair" in notice["body"]
        assert "DUP-1, DUP-2" in notice["body"] and "2026-11-20" in notice["body"]
        assert {e["code"] for e in notice["errors"]} == {"duplicate_booking_number"}
        assert all("26800001" in e["message"] for e in notice["errors"])
    assert "Buchungsnummer" in read(partner, "/v1/notifications", "de")[0]["errors"][0]["message"]


async def test_a_small_business_lexware_account_in_five_languages(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration = await add_integration(sessionmaker, client_id, system="lexware")
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="KU-1")).json()["id"]
    await deliver(
        sessionmaker,
        SyncFailed(
            document_id=uuid.UUID(doc),
            integration_id=integration,
            code="small_business",
            message=SMALL_BUSINESS_MESSAGE,
            retryable=False,
        ),
    )
    english = read(partner, f"/v1/invoices/{doc}", "en")["sync"][0]["error"]
    assert english["message"] == SMALL_BUSINESS_MESSAGE  # English only, no German in it
    assert "Umsatzsteuer" not in SMALL_BUSINESS_MESSAGE
    for language, words in SMALL_BUSINESS.items():
        error = read(partner, f"/v1/invoices/{doc}", language)["sync"][0]["error"]
        assert error["code"] == "small_business" and words in error["message"], error

    # At connection time: the connector's verdict, as the OAuth callback and verify apply it.
    async with sessionmaker.begin() as session:
        row = await session.get(Integration, integration)
        assert row is not None
        set_verdict(row, Verdict(False, "small_business", SMALL_BUSINESS_MESSAGE))
    shown = read(partner, f"/v1/integrations/{integration}", "en")
    assert (shown["status"], shown["status_reason"]) == ("error", SMALL_BUSINESS_MESSAGE)
    for language, words in SMALL_BUSINESS.items():
        shown = read(partner, f"/v1/integrations/{integration}", language)
        assert shown["status"] == "error" and words in shown["status_reason"], shown


@pytest.mark.parametrize("language", ["de", "nl", "es", "fr"])
def test_problems_are_translated_and_keep_their_codes(
    partner: httpx.Client, client_id: str, language: str
) -> None:
    headers = {"Accept-Language": f"{language}-XX, en;q=0.5"}
    english_404 = partner.get(f"/v1/invoices/{uuid.uuid4()}").json()
    missing = partner.get(f"/v1/invoices/{uuid.uuid4()}", headers=headers)
    assert missing.status_code == 404 and missing.headers["Content-Language"] == language
    body = missing.json()
    assert (body["code"], body["type"]) == (english_404["code"], english_404["type"])
    assert body["title"] != english_404["title"] and body["detail"] != english_404["detail"]

    wrong = invoice(client_id, currency="eur")
    del wrong["customer"]["name"]
    english_422 = partner.post("/v1/invoices", json=wrong).json()
    refused = partner.post("/v1/invoices", json=wrong, headers=headers)
    assert refused.status_code == 422
    body = refused.json()
    assert (body["code"], body["type"]) == ("validation_failed", english_422["type"])
    assert body["title"] != english_422["title"]
    pairs = zip(body["errors"], english_422["errors"], strict=True)
    for translated, english in pairs:
        assert (translated["field"], translated["type"]) == (english["field"], english["type"])
        assert translated["message"] != english["message"], translated
    assert "'^[A-Z]{3}$'" in body["detail"]  # the pattern itself is not translated


def test_a_partner_default_language_answers_requests_without_accept_language(
    partner: httpx.Client, api_url: str
) -> None:
    assert partner.get("/v1/partner").json()["language"] == "en"
    refused = partner.patch("/v1/partner", json={"language": "pt"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "language"
    assert partner.patch("/v1/partner", json={"language": "nl"}).json()["language"] == "nl"

    missing = partner.get(f"/v1/invoices/{uuid.uuid4()}")
    assert missing.headers["Content-Language"] == "nl"
    assert missing.json()["detail"] == "Factuur niet gevonden."
    asked = partner.get(f"/v1/invoices/{uuid.uuid4()}", headers={"Accept-Language": "fr"})
    assert asked.json()["detail"] == "Facture introuvable."
    unknown = partner.get(f"/v1/invoices/{uuid.uuid4()}", headers={"Accept-Language": "ja"})
    assert unknown.headers["Content-Language"] == "nl"  # none of ours: the default
    anonymous = httpx.get(f"{api_url}/v1/invoices", headers={"Accept-Language": "es"})
    assert anonymous.status_code == 401
    assert anonymous.json()["detail"] == "Envíe su clave de API como 'Authorization: Bearer <key>'."


async def subscribed_endpoint(
    sessionmaker: async_sessionmaker[AsyncSession],
    secret_box: SecretBox,
    client_id: str,
    event: str,
) -> uuid.UUID:
    """An endpoint row as creating one leaves it, its secret sealed with the test's keys
    (no receiver: the payload is read as it is queued; the URL policy is tested in
    test_webhooks). ``stop_sending`` disables it after, for the dispatchers of later tests."""
    async with sessionmaker.begin() as session:
        client = await session.get(Client, uuid.UUID(client_id))
        assert client is not None
        endpoint = WebhookEndpoint(
            partner_id=client.partner_id,
            url="https://hooks.example/books",
            events=[event],
            secret=secret_box.encrypt(b"whsec_test"),
            status="enabled",
        )
        session.add(endpoint)
        await session.flush()
        return endpoint.id


async def stop_sending(sessionmaker: async_sessionmaker[AsyncSession], endpoint: uuid.UUID) -> None:
    async with sessionmaker.begin() as session:
        row = await session.get(WebhookEndpoint, endpoint)
        assert row is not None
        row.status = "disabled"


async def test_webhook_payloads_speak_the_partners_language(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    secret_box: SecretBox,
) -> None:
    endpoint = await subscribed_endpoint(
        sessionmaker, secret_box, client_id, "document.sync_failed"
    )
    assert partner.patch("/v1/partner", json={"language": "de"}).status_code == 200
    integration = await add_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="WH-1")).json()["id"]
    await deliver(
        sessionmaker,
        SyncFailed(
            document_id=uuid.UUID(doc),
            integration_id=integration,
            code="unknown_vat_code",
            message=VAT_MESSAGE,
            retryable=False,
        ),
    )
    async with sessionmaker() as session:
        (payload,) = await session.scalars(
            select(WebhookDelivery.payload).where(WebhookDelivery.endpoint_id == endpoint)
        )
    await stop_sending(sessionmaker, endpoint)
    error = payload["data"]["error"]
    assert error["code"] == "unknown_vat_code" and NO_VAT_CODE["de"] in error["message"]


# What the connectors and the API say about an integration and a new document, in German:
# a phrase of each text, so an English answer (the stored fallback) fails.
WITHDRAWN_EN = (
    "The Exact user who connected this integration no longer has access to division 42 "
    "(Exact said: Forbidden). [...] then reconnect the integration"
)
WITHDRAWN_DE = (
    "keinen Zugriff mehr auf die Administration (Division) 42 (Meldung von Exact Online: Forbidden)"
)


async def test_a_lost_connection_reads_in_the_readers_language(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    secret_box: SecretBox,
) -> None:
    """The connector's stable reason and its parameters, not its English text, make the
    status reason, the notification and the partner's webhook payload."""
    endpoint = await subscribed_endpoint(
        sessionmaker, secret_box, client_id, "integration.status_changed"
    )
    try:
        assert partner.patch("/v1/partner", json={"language": "de"}).status_code == 200
        integration = await add_integration(sessionmaker, client_id)
        lost = IntegrationConnectionLost(
            integration_id=integration,
            system="exact",
            status="needs_reauthorization",
            reason="division_access_withdrawn",
            message=WITHDRAWN_EN,
            params={"division": "42", "said": "Forbidden"},
            detected_at=datetime.now(UTC),
        )
        envelope = Envelope.wrap(
            lost, source="/connectors/exact", subject=str(integration), key="k"
        )
        await ResultApplier(sessionmaker).handle(envelope)

        assert (
            read(partner, f"/v1/integrations/{integration}", "en")["status_reason"] == WITHDRAWN_EN
        )
        shown = read(partner, f"/v1/integrations/{integration}", "de")
        assert shown["status"] == "needs_reauthorization"
        assert WITHDRAWN_DE in shown["status_reason"], shown["status_reason"]
        notices = read(partner, "/v1/notifications", "de", client_id=client_id)
        (notice,) = [n for n in notices if n["kind"] == "integration_status_changed"]
        assert WITHDRAWN_DE in notice["body"] and "Verbindung" in notice["title"], notice
        async with sessionmaker() as session:
            (payload,) = await session.scalars(
                select(WebhookDelivery.payload).where(WebhookDelivery.endpoint_id == endpoint)
            )
        assert WITHDRAWN_DE in payload["data"]["reason"], payload["data"]
    finally:
        await stop_sending(sessionmaker, endpoint)


async def test_reasons_the_api_decides_read_in_german(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Deactivated from a date, access not granted on the consent page, another
    organisation's grant: stored with a code and its parameters, read in German."""
    integration = await add_integration(sessionmaker, client_id)
    done = partner.post(
        f"/v1/integrations/{integration}/deactivate", json={"from_date": "2026-11-01"}
    )
    assert done.status_code == 200, done.text
    reason = read(partner, f"/v1/integrations/{integration}", "de")["status_reason"]
    assert reason == "Deaktiviert ab 2026-11-01.", reason

    created = partner.post(
        f"/v1/clients/{client_id}/integrations",
        json={"system": "exact", "settings": EXACT_SETTINGS},
    )
    assert created.status_code == 201, created.text
    state = parse_qs(urlsplit(created.json()["authorize_url"]).query)["state"][0]
    refused = partner.get(
        "/v1/oauth/callback",
        params={"state": state, "error": "access_denied"},
        headers={"Accept-Language": "de"},
    )
    assert refused.status_code == 200, refused.text
    assert refused.json()["status_reason"] == "Der Zugriff wurde nicht erteilt (access_denied)."

    lexware = await add_integration(sessionmaker, client_id, system="lexware")
    async with sessionmaker.begin() as session:
        row = await session.get(Integration, lexware)
        assert row is not None
        row.settings = {**row.settings, "remote": {"organization_id": "org-1"}}
        set_verdict(
            row, Verdict(True, details={"organization_id": "org-2", "company_name": "Nord GmbH"})
        )
    shown = read(partner, f"/v1/integrations/{lexware}", "de")
    assert shown["status"] == "error"
    assert (
        "Diese Freigabe gilt für die Lexware Office-Organisation Nord GmbH (org-2)"
        in (shown["status_reason"])
    ), shown["status_reason"]


def test_invalid_settings_are_refused_in_german(partner: httpx.Client, client_id: str) -> None:
    english = partner.post(
        f"/v1/clients/{client_id}/integrations", json={"system": "yuki", "settings": {}}
    ).json()
    refused = partner.post(
        f"/v1/clients/{client_id}/integrations",
        json={"system": "yuki", "settings": {}},
        headers={"Accept-Language": "de"},
    )
    assert refused.status_code == 422 and refused.json()["code"] == english["code"]
    detail = refused.json()["detail"]
    assert detail.startswith("Ungültige Einstellungen für yuki: settings."), detail
    assert "Field required" in english["detail"] and "Field required" not in detail, detail


async def test_the_created_answer_and_its_replays_speak_each_requests_language(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A document dated before the start date is refused in the 201 answer itself; the
    replay of an Idempotency-Key answers in the language of the replaying request."""
    await add_integration(
        sessionmaker, client_id, activated_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    old = invoice(client_id, number="LANG-START", issue_date="2025-12-31", due_date="2026-01-30")
    key = {"Idempotency-Key": f"lang-{uuid.uuid4()}"}
    answers = [
        partner.post("/v1/invoices", json=old, headers={**key, "Accept-Language": language})
        for language in ("de", "en", "de")
    ]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert [a.headers.get("Idempotent-Replayed") for a in answers] == [None, "true", "true"]
    messages = [a.json()["sync"][0]["error"]["message"] for a in answers]
    assert [a.json()["sync"][0]["error"]["code"] for a in answers] == ["before_start_date"] * 3
    assert messages[0].startswith("Nicht übertragen"), messages[0]
    assert messages[2] == messages[0]
    assert "2025-12-31" in messages[1] and messages[1] != messages[0]


def test_a_duplicate_document_number_is_refused_in_german(
    partner: httpx.Client, client_id: str
) -> None:
    body = invoice(client_id, number="LANG-DUP")
    assert partner.post("/v1/invoices", json=body).status_code == 201
    english = partner.post("/v1/invoices", json=body).json()
    refused = partner.post("/v1/invoices", json=body, headers={"Accept-Language": "de"})
    assert refused.status_code == 409 and refused.json()["code"] == english["code"]
    assert english["detail"] == "This client already has an invoice numbered 'LANG-DUP'."
    assert refused.json()["detail"] == (
        "Dieser Mandant hat bereits eine Rechnung mit der Nummer 'LANG-DUP'."
    )


async def test_a_previews_problems_read_in_german(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """An integration that needs connecting again: no connector is asked, the problem is
    the API's own, by its code."""
    await add_integration(sessionmaker, client_id, status="needs_reauthorization")
    body = invoice(client_id, number="LANG-PREVIEW")
    english = partner.post("/v1/invoices/preview", json=body)
    german = partner.post("/v1/invoices/preview", json=body, headers={"Accept-Language": "de"})
    assert english.status_code == german.status_code == 200, german.text
    (en_problem,) = english.json()["integrations"][0]["problems"]
    (de_problem,) = german.json()["integrations"][0]["problems"]
    assert en_problem["code"] == de_problem["code"] == "integration_inactive"
    assert en_problem["message"].startswith("The integration is needs reauthorization")
    assert "ist nicht aktiv" in de_problem["message"], de_problem


# The reconciliation's refusals and failures, in each reader's words (Abstimmung, afstemming).
RECONCILIATION = {
    "de": {
        "inactive": (
            "Die Integration hat den Status needs reauthorization; nur eine aktive "
            "Integration kann abgestimmt werden."
        ),
        "too_long": "darf höchstens 366 Tage nach from liegen",
        "running": "Für diese Integration läuft bereits eine Abstimmung.",
        "not_finished": "Nur eine abgeschlossene Abstimmung kann angewendet werden.",
        "not_supported": "Die Abstimmung ist für yuki noch nicht verfügbar.",
        "entries_lost": (
            "Von den 5 gelesenen Buchungen sind nur 0 angekommen; starten Sie die "
            "Abstimmung erneut."
        ),
    },
    "nl": {
        "inactive": (
            "De koppeling heeft de status needs reauthorization; alleen een actieve "
            "koppeling kan worden afgestemd."
        ),
        "too_long": "mag hoogstens 366 dagen na from liggen",
        "running": "Voor deze koppeling loopt al een afstemming.",
        "not_finished": "Alleen een afgeronde afstemming kan worden toegepast.",
        "not_supported": "Afstemming is voor yuki nog niet beschikbaar.",
        "entries_lost": (
            "Van de 5 gelezen boekingen zijn er maar 0 aangekomen; start de afstemming opnieuw."
        ),
    },
}
PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}


async def read_over(
    sessionmaker: async_sessionmaker[AsyncSession],
    client_id: str,
    integration_id: uuid.UUID,
    reconciliation_id: str,
    **outcome: Any,
) -> None:
    """The connector's answer to a reconciliation, applied as the result consumer does."""
    event = ReconciliationRead(
        reconciliation_id=uuid.UUID(reconciliation_id),
        integration_id=integration_id,
        chunks=0,
        calls_used=1,
        **outcome,
    )
    envelope = Envelope.wrap(event, source="/connectors/yuki", subject="r", key=client_id)
    await ResultApplier(sessionmaker).handle(envelope)


@pytest.mark.parametrize("language", ["de", "nl"])
async def test_a_reconciliations_refusals_and_failures_read_in_german_and_dutch(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    language: str,
) -> None:
    """Refused starts and applies, and the failures the connector (``not_supported``) and
    the API (``entries_lost``) store in English; the codes as in English."""
    words, headers = RECONCILIATION[language], {"Accept-Language": language}
    inactive = await add_integration(sessionmaker, client_id, status="needs_reauthorization")
    url = f"/v1/integrations/{inactive}/reconciliations"
    refused = partner.post(url, json=PERIOD, headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (422, "unprocessable")
    assert refused.json()["detail"] == words["inactive"]

    integration_id = await add_integration(sessionmaker, client_id, system="yuki")
    url = f"/v1/integrations/{integration_id}/reconciliations"
    too_long = partner.post(url, json={"from": "2025-01-01", "to": "2026-11-30"}, headers=headers)
    assert (too_long.status_code, too_long.json()["code"]) == (422, "validation_failed")
    assert too_long.json()["errors"] == [{"field": "to", "message": words["too_long"], "type": ""}]
    started = partner.post(url, json=PERIOD, headers=headers)
    assert started.status_code == 202, started.text
    running = partner.post(url, json=PERIOD, headers=headers)
    assert (running.status_code, running.json()["code"]) == (409, "conflict")
    assert running.json()["detail"] == words["running"]
    apply = partner.post(f"{url}/{started.json()['id']}/apply", headers=headers)
    assert (apply.status_code, apply.json()["detail"]) == (409, words["not_finished"])

    message = "Reconciliation is not available for yuki yet."  # the connector runtime's
    await read_over(
        sessionmaker,
        client_id,
        integration_id,
        started.json()["id"],
        entries=0,
        failure_code="not_supported",
        message=message,
    )
    failed = read(partner, f"{url}/{started.json()['id']}", language)
    assert failed["failure"] == {"code": "not_supported", "message": words["not_supported"]}
    english = read(partner, f"{url}/{started.json()['id']}", "en")
    assert english["failure"] == {"code": "not_supported", "message": message}

    lost = partner.post(url, json=PERIOD).json()["id"]
    await read_over(sessionmaker, client_id, integration_id, lost, entries=5)
    failed = read(partner, f"{url}/{lost}", language)
    assert failed["failure"] == {"code": "entries_lost", "message": words["entries_lost"]}
    english = read(partner, f"{url}/{lost}", "en")
    assert english["failure"]["message"] == (
        "Only 0 of the 5 entries read arrived; reconcile again."
    )


TOTALS_MISMATCH = {
    "de": "ist 131.90, die Positionen ergeben aber 131.89",
    "nl": "is 131.90, maar de regels tellen op tot 131.89",
}


@pytest.mark.parametrize("language", ["de", "nl"])
def test_a_totals_mismatch_reads_in_german_and_dutch(
    partner: httpx.Client, client_id: str, language: str
) -> None:
    body = invoice(client_id, number="LANG-TOTALS", totals={"gross": "131.90"})
    refused = partner.post("/v1/invoices", json=body, headers={"Accept-Language": language})
    assert (refused.status_code, refused.json()["code"]) == (422, "unprocessable")
    assert refused.json()["title"] != "Unprocessable content"
    message = TOTALS_MISMATCH[language]
    assert refused.json()["detail"] == f"totals.gross {message}"
    assert refused.json()["errors"] == [
        {"field": "totals.gross", "message": message, "type": "totals_mismatch"}
    ]


async def test_a_failed_reconciliations_webhook_speaks_the_partners_language(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    secret_box: SecretBox,
) -> None:
    endpoint = await subscribed_endpoint(
        sessionmaker, secret_box, client_id, "reconciliation.finished"
    )
    assert partner.patch("/v1/partner", json={"language": "nl"}).status_code == 200
    integration_id = await add_integration(sessionmaker, client_id, system="yuki")
    url = f"/v1/integrations/{integration_id}/reconciliations"
    started = partner.post(url, json=PERIOD).json()["id"]
    await read_over(
        sessionmaker,
        client_id,
        integration_id,
        started,
        entries=0,
        failure_code="not_supported",
        message="Reconciliation is not available for yuki yet.",
    )
    async with sessionmaker() as session:
        (payload,) = await session.scalars(
            select(WebhookDelivery.payload).where(WebhookDelivery.endpoint_id == endpoint)
        )
    await stop_sending(sessionmaker, endpoint)
    assert payload["data"]["failure"] == {
        "code": "not_supported",
        "message": RECONCILIATION["nl"]["not_supported"],
    }


def test_why_an_endpoint_was_disabled_reads_in_german(partner: httpx.Client) -> None:
    created = partner.post(
        "/v1/webhook-endpoints",
        json={"url": "https://8.8.8.8/hook", "events": ["reconciliation.finished"]},
    )
    assert created.status_code == 201, created.text
    path = f"/v1/webhook-endpoints/{created.json()['id']}"
    german = partner.patch(path, json={"enabled": False}, headers={"Accept-Language": "de"})
    assert german.status_code == 200, german.text
    assert german.json()["disabled_reason"] == "Vom Partner deaktiviert."
    assert read(partner, path, "en")["disabled_reason"] == "Disabled by the partner."
    (listed,) = [e for e in read(partner, "/v1/webhook-endpoints", "nl") if e["id"] in path]
    assert listed["disabled_reason"] == "Door de partner uitgeschakeld."


async def test_a_connector_that_cannot_preview_reads_in_german(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """No connector answers in these tests: the API's own ``preview_unavailable``."""
    await add_integration(sessionmaker, client_id, system="exact")
    body = invoice(client_id, number="LANG-PREVIEW-2")
    german = partner.post("/v1/invoices/preview", json=body, headers={"Accept-Language": "de"})
    assert german.status_code == 200, german.text
    (problem,) = german.json()["integrations"][0]["problems"]
    assert problem["code"] == "preview_unavailable"
    assert problem["message"] == (
        "Der exact-Connector konnte keine Vorschau dieses Belegs erstellen (nicht erreichbar); "
        "versuchen Sie die Vorschau gleich noch einmal."
    )


REPAIR_REASON = {
    "de": "Die Buchung trägt unsere Referenz, aber kein Beleg dieses Zeitraums hat sie.",
    "nl": "De boeking draagt onze referentie, maar geen document uit deze periode heeft haar.",
}


@pytest.mark.parametrize("language", ["de", "nl"])
async def test_a_reconciliations_repair_plan_reads_in_german_and_dutch(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    language: str,
) -> None:
    """An entry with our reference that no document has: left for a person, the reason
    in the reader's words (stored once, in English)."""
    integration_id = await add_integration(sessionmaker, client_id, system="yuki")
    url = f"/v1/integrations/{integration_id}/reconciliations"
    started = partner.post(url, json=PERIOD).json()["id"]
    entry = RemoteEntry(remote_id="y-1", number="7", reference="NOT-OURS-1", gross="10.00")
    chunk = ReconciliationEntriesRead(
        reconciliation_id=uuid.UUID(started),
        integration_id=integration_id,
        chunk=0,
        entries=[entry],
        calls_used=1,
    )
    envelope = Envelope.wrap(chunk, source="/connectors/yuki", subject="r", key=client_id)
    await ResultApplier(sessionmaker).handle(envelope)
    await read_over(sessionmaker, client_id, integration_id, started, entries=1)
    (english,) = read(partner, f"{url}/{started}", "en")["report"]["repair_plan"]
    (translated,) = read(partner, f"{url}/{started}", language)["report"]["repair_plan"]
    assert english["reason"] == (
        "The entry carries our reference, but no document of this period has it."
    )
    assert translated == {**english, "reason": REPAIR_REASON[language]}
    applied = partner.post(f"{url}/{started}/apply", headers={"Accept-Language": language})
    assert applied.status_code == 200, applied.text
    assert applied.json()["left_for_a_person"] == [translated]
