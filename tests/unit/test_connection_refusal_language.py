"""A refused connection (422 ``connection_failed``) in the reader's language: the
connector's ``reason`` code picks the text, as a sync error's code does; the answer's
codes stay as they are. Through the API's own error handlers and language middleware."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from connector_lexware.profile import SMALL_BUSINESS_MESSAGE
from invoicesync_api.errors.exceptions import ConnectionFailed
from invoicesync_api.errors.handlers import install_error_handlers
from invoicesync_api.i18n.middleware import Languages


def refusing_app(reason: str, message: str) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(Languages)

    @app.post("/connect")
    async def connect() -> None:
        raise ConnectionFailed(message, system="lexware", extra={"reason": reason})

    return app


def client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")


async def test_a_small_business_refusal_at_connect_time_in_five_languages() -> None:
    client = client_of(refusing_app("small_business", SMALL_BUSINESS_MESSAGE))
    expected = {
        "en": SMALL_BUSINESS_MESSAGE,
        "de": "Lexware Office ist als Kleinunternehmer (ohne Umsatzsteuer) eingerichtet; "
        "invoicesync kann dorthin keine Rechnungen mit Umsatzsteuer senden. Ändern Sie die "
        "Einstellung in Lexware Office oder trennen Sie die Integration.",
        "nl": "Het Lexware Office-account is ingericht als kleine ondernemer zonder btw "
        "(Kleinunternehmer); invoicesync kan er geen facturen met btw naartoe sturen. Wijzig "
        "de instelling in Lexware Office of verbreek de koppeling.",
        "es": "La cuenta de Lexware Office está configurada como pequeña empresa sin IVA "
        "(Kleinunternehmer); invoicesync no puede enviarle facturas con IVA. Cambie la "
        "configuración en Lexware Office o desconecte la integración.",
        "fr": "Le compte Lexware Office est paramétré en franchise en base de TVA "
        "(Kleinunternehmer) ; invoicesync ne peut pas y envoyer de factures avec TVA. "
        "Modifiez ce paramètre dans Lexware Office ou déconnectez l'intégration.",
    }
    for language, detail in expected.items():
        answer = await client.post("/connect", headers={"Accept-Language": language})
        assert answer.status_code == 422 and answer.headers["Content-Language"] == language
        body = answer.json()
        assert (body["code"], body["reason"]) == ("connection_failed", "small_business")
        assert body["detail"] == detail


async def test_a_refusal_whose_text_is_about_documents_stays_as_the_connector_wrote_it() -> None:
    client = client_of(refusing_app("rejected", "Lexware Office refused: bad token"))
    answer = await client.post("/connect", headers={"Accept-Language": "de"})
    assert answer.json()["detail"] == "Lexware Office refused: bad token"
    assert answer.json()["title"] == "Das Buchhaltungssystem hat die Verbindung abgelehnt"
