"""Texts stored in English with their parameters filled in (why a webhook endpoint was
disabled) read in each language, the parameters read back; any other text as stored."""

from __future__ import annotations

from invoicesync_api.i18n import repair_reasons
from invoicesync_api.i18n.catalog import render
from invoicesync_api.i18n.notifications import localised
from invoicesync_api.i18n.webhook_reasons import disabled_reason
from invoicesync_api.integrations.refresh import Refreshed, message_in


def test_why_an_endpoint_was_disabled_is_translated_with_its_numbers() -> None:
    stored = "3 deliveries in a row failed after all their attempts."
    assert disabled_reason("de", stored) == (
        "3 Zustellungen in Folge sind nach allen Versuchen fehlgeschlagen."
    )
    assert disabled_reason("fr", "every attempt failed for more than 1.5 hours.") == (
        "toutes les tentatives ont échoué pendant plus de 1.5 heures."
    )
    assert disabled_reason("en", stored) == stored
    assert disabled_reason("nl", "Turned off by hand.") == "Turned off by hand."
    assert disabled_reason("es", None) is None


def test_the_disabled_endpoints_notification_gives_the_reason_in_its_language() -> None:
    params = {
        "endpoint_id": "e",
        "url": "https://hooks.example",
        "reason": "3 deliveries in a row failed after all their attempts.",
    }
    _, body, _ = localised("nl", "webhook_endpoint_disabled", "T", "B", params, [])
    assert "3 leveringen op rij zijn na al hun pogingen mislukt." in body, body


def test_a_repair_reason_is_translated_with_its_numbers_and_words() -> None:
    says = render("en", repair_reasons.SAYS, {"theirs": "paid"})
    assert repair_reasons.reason("de", says) == (
        "Laut Buchhaltungssystem ist der Beleg bezahlt; lesen Sie die Zahlungsstatus erneut ein."
    )
    duplicate = render("en", repair_reasons.DUPLICATE_NUMBER, {"number": "26700001", "count": 2})
    assert "(POST /v1/integrations/{id}/repair)" in duplicate
    spanish = repair_reasons.reason("es", duplicate)
    assert spanish.startswith("El número de registro 26700001 figura en 2 documentos"), spanish
    assert "(POST /v1/integrations/{id}/repair)" in spanish
    assert repair_reasons.reason("fr", "Written by someone else.") == "Written by someone else."


def test_a_read_back_that_reached_no_connector_says_so_in_dutch() -> None:
    """Apply's ``read_back.message`` when the connector is down (the API's own text)."""
    down = Refreshed(False, code="connector_unavailable", message="as stored")
    assert message_in("nl", "yuki", down) == (
        "De yuki-connector was niet bereikbaar; probeer het later opnieuw."
    )
    theirs = Refreshed(False, code="busy", message="The connector's own words.")
    assert message_in("nl", "yuki", theirs) == "The connector's own words."
