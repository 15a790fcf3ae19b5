"""The message catalogues: every text in all five languages, with the same placeholders,
and every text the API marks for translation catalogued (no catalogue goes stale)."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from string import Formatter
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir

from invoicesync_api.errors import exceptions
from invoicesync_api.i18n import catalog
from invoicesync_api.i18n.languages import LANGUAGES, negotiate, preferred
from invoicesync_api.i18n.notifications import RENDERERS, localised
from invoicesync_api.i18n.status_reasons import STATUS_REASONS, status_reason
from invoicesync_api.i18n.sync_errors import SYNC_ERRORS, sync_error_message

API_SOURCE = Path(catalog.__file__).parents[1]
# Pydantic's English plural ending ("character{expected_plural}"): the other languages
# phrase the count without it.
ENGLISH_ONLY = {"expected_plural"}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name is not None}


def messages(language: str) -> dict[str, str]:
    parsed: Catalog = catalog.catalog(language)
    assert not any(m.fuzzy for m in parsed if m.id), f"{language}: fuzzy entries"
    return {str(m.id): str(m.string) for m in parsed if m.id}


def marked_in_source() -> set[str]:
    found = extract_from_dir(
        str(API_SOURCE), method_map=[("**.py", "python")], keywords={"N_": None}
    )
    return {str(message) for _, _, message, _, _ in found}


def test_every_message_exists_in_all_five_languages_with_the_same_placeholders() -> None:
    english = messages("en")
    assert len(english) > 100
    for language in LANGUAGES:
        translated = messages(language)
        assert set(translated) == set(english), language
        for msgid, text in translated.items():
            assert text.strip(), f"{language}: no translation of {msgid!r}"
            expected = placeholders(msgid)
            assert expected - ENGLISH_ONLY <= placeholders(text) <= expected, (
                f"{language}: {msgid!r} -> {text!r}"
            )


def test_every_text_marked_in_the_api_is_catalogued_and_nothing_else() -> None:
    assert marked_in_source() == set(messages("en"))


def test_the_english_catalogue_is_the_source_text() -> None:
    assert all(text == msgid for msgid, text in messages("en").items())


def subclasses(base: type[exceptions.ApiError]) -> set[type[exceptions.ApiError]]:
    direct = set(base.__subclasses__())
    return direct.union(*(subclasses(c) for c in direct))


def test_every_error_title_is_catalogued() -> None:
    """Every error the app can raise (the app imports them all)."""
    importlib.import_module("invoicesync_api.app")
    errors = subclasses(exceptions.ApiError) | {exceptions.ApiError}
    assert {"UrlRefused", "TooManyRequests", "BadCallback"} <= {e.__name__ for e in errors}
    assert {e.title for e in errors} <= set(messages("en"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_sync_error_and_notification_renders(language: str) -> None:
    for code in SYNC_ERRORS:
        text = sync_error_message(
            language, code, "stored", system="lexware", number="RE-1", booking_number="7"
        )
        assert text and "{" not in text, (language, code)
    params: dict[str, dict[str, Any]] = {
        "sync_run_finished": {
            "documents": 2,
            "systems": 2,
            "synced": 3,
            "total": 4,
            "failed": 1,
            "customers": 0,
            "moved": [[1, "2026-12-05 09:00 UTC", "daily_limit", "exact"]],
        },
        "duplicate_booking_number": {
            "number": "7",
            "count": 2,
            "system": "exact",
            "names": "A, B",
            "integration_id": "i",
            "earliest": "2026-11-20",
        },
        "remote_entry_missing": {
            "number": "7",
            "document": "A",
            "system": "exact",
            "integration_id": "i",
            "issue_date": "2026-11-20",
        },
        "integration_status_changed": {"system": "yuki", "status": "error", "reason": "r"},
        "webhook_endpoint_disabled": {"endpoint_id": "e", "url": "https://x", "reason": "r"},
        "reconciliation_differences": {
            "system": "exact",
            "differences": 3,
            "period_from": "2026-11-01",
            "period_to": "2026-11-30",
            "listed": {"missing_in_accounting": 2, "payment_differences": 1},
        },
    }
    assert set(params) == set(RENDERERS)
    paused = {  # the failure brake's variant of a status change
        "system": "exact",
        "status": "paused",
        "code": "unknown_vat_code",
        "reason": "r",
        "in_a_row": 3,
        "integration_id": "i",
    }
    for kind, p in [*params.items(), ("integration_status_changed", paused)]:
        title, body, _ = localised(language, kind, "T", "B", p, [])
        if language == "en":
            assert (title, body) == ("T", "B")  # English reads what was stored
        else:
            assert "{" not in title + body and title != "T" and body != "B", (language, kind)
            if p is paused:  # not the lost connection's text
                assert "3" in title and "/resume" in body, (language, title)


CONSOLE_SOURCE = API_SOURCE / "console"
PERCENT = re.compile(r"%\((\w+)\)[sd]")


def console_messages(language: str) -> dict[str | tuple[str, ...], tuple[str, ...]]:
    """The console's catalogue: each text (a plural is its tuple of forms) and its
    translations (one, or one per plural form)."""
    parsed: Catalog = catalog.catalog(language, catalog.CONSOLE)
    assert not any(m.fuzzy for m in parsed if m.id), f"{language}: fuzzy console entries"
    return {
        (tuple(m.id) if isinstance(m.id, (list, tuple)) else str(m.id)): (
            tuple(m.string) if isinstance(m.string, (list, tuple)) else (str(m.string),)
        )
        for m in parsed
        if m.id
    }


def marked_in_console() -> set[str | tuple[str, ...]]:
    """What the console's code and templates pass to ``_``, ``gettext`` or ``ngettext``."""
    found = extract_from_dir(
        str(CONSOLE_SOURCE),
        method_map=[("**.py", "python"), ("**.html", "jinja2.ext:babel_extract")],
        keywords={"_": None, "gettext": None, "ngettext": (1, 2)},
    )
    return {
        tuple(message) if isinstance(message, (list, tuple)) else message
        for _, _, message, _, _ in found
    }


def test_every_console_text_is_translated_with_the_same_placeholders() -> None:
    english = console_messages("en")
    assert len(english) > 80
    for language in LANGUAGES:
        translated = console_messages(language)
        assert set(translated) == set(english), language
        for msgid, forms in translated.items():
            source = " ".join(msgid) if isinstance(msgid, tuple) else msgid
            for text in forms:
                assert text.strip(), f"{language}: no translation of {msgid!r}"
                assert set(PERCENT.findall(text)) == set(PERCENT.findall(source)), (
                    f"{language}: {msgid!r} -> {text!r}"
                )


def test_every_console_text_is_catalogued_and_nothing_else() -> None:
    assert marked_in_console() == set(console_messages("en"))


def test_the_console_speaks_the_bookkeepers_words() -> None:
    """The column the accountant looks for, in each language (as the API's messages)."""
    words = {
        "de": "Buchungsnummer",
        "nl": "Boekingsnummer",
        "es": "Número de registro",
        "fr": "Numéro d'écriture",
    }
    for language, word in words.items():
        header = catalog.translations(language, catalog.CONSOLE).gettext(
            "Booking number (%(system)s)"
        )
        assert header == f"{word} (%(system)s)", (language, header)


def test_accept_language_is_ranked_by_quality() -> None:
    assert preferred("en;q=0.4, fr-CH, de;q=0.9, nl;q=0") == ["fr-CH", "de", "en"]
    assert negotiate("pt-BR, nl-BE;q=0.8, de;q=0.5") == "nl"
    assert negotiate("es-MX") == "es"
    assert negotiate("de;q=0.1, fr;q=0.2") == "fr"
    assert negotiate("pt, ja") is None  # none of ours: the partner's default applies
    assert negotiate("*") is None
    assert negotiate("de;q=0") is None
    assert negotiate("de;q=abc, es") == "es"


def test_vocabulary_of_the_booking_number() -> None:
    """The accounting word for the number the system gives an entry, in each language."""
    words = {
        "de": "Buchungsnummer",
        "nl": "boekingsnummer",
        "es": "número de registro",
        "fr": "numéro d'écriture",
    }
    template = SYNC_ERRORS["duplicate_booking_number"]
    for language, word in words.items():
        text = catalog.render(language, template, {"booking_number": "26700001"})
        assert re.search(word, text, re.IGNORECASE), (language, text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_status_reason_renders_and_is_translated(language: str) -> None:
    """Each code's text with every parameter it names; only English keeps the English."""
    for code, template in STATUS_REASONS.items():
        params = {name: f"<{name}>" for name in placeholders(template)}
        english = status_reason("en", code, None, system="exact", params=params)
        text = status_reason(language, code, "stored", system="exact", params=params)
        assert text and "{" not in text, (code, text)
        assert (text == "stored") == (language == "en"), (code, text)
        rendered = text if language != "en" else english
        assert rendered != english or language == "en", (code, text)
        assert all(f"<{p}>" in str(rendered) for p in set(params) - {"system"}), rendered
    # Parameters missing (an older connector): the stored text, not a half-filled one.
    assert status_reason(language, "deactivated", "as stored", system="exact") == "as stored"


# Problems read by Lexware's callback sender, not a person.
ENGLISH_DETAILS_ALLOWED = {"callbacks/lexware.py"}


def test_no_problem_detail_is_written_as_plain_english() -> None:
    """A detail raised as a string literal or f-string would answer English in every
    language: it has to be a catalogue template (``N_``, with ``params``). A
    ``ConnectionFailed`` carries the connector's text, translated by its reason code."""
    importlib.import_module("invoicesync_api.app")
    names = {e.__name__ for e in subclasses(exceptions.ApiError)} | {"ApiError"}
    found = []
    for path in API_SOURCE.rglob("*.py"):
        relative = path.relative_to(API_SOURCE).as_posix()
        if relative in ENGLISH_DETAILS_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            call = node.exc
            name = getattr(call.func, "id", getattr(call.func, "attr", ""))
            if name in names - {"ConnectionFailed"} and call.args and _english(call.args[0]):
                found.append(f"{relative}:{node.lineno}")
    assert found == [], found


def _english(argument: ast.expr) -> bool:
    if isinstance(argument, ast.JoinedStr):
        return True
    if isinstance(argument, ast.BoolOp):  # ``message or "…"``
        return any(_english(v) for v in argument.values)
    return isinstance(argument, ast.Constant) and isinstance(argument.value, str)
