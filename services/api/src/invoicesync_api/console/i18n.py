"""Every text the console shows goes through ``Translator.gettext`` (``_`` in templates).

The texts live in the API's Babel catalogues under their own domain, ``console``
(``i18n/locales/<lang>/LC_MESSAGES/console.po``): Jinja's placeholders are %-style where
the API's messages use ``{}``, and the catalogue test extracts this domain from the
console's code and templates. The language is the one chosen with the console's switch
(a cookie), else ``Accept-Language``, else the partner's default, else English."""

from __future__ import annotations

import gettext
from dataclasses import dataclass

from fastapi import Request, Response

from invoicesync_api.console.session import PATH, is_loopback_http
from invoicesync_api.i18n import catalog
from invoicesync_api.i18n.languages import supported
from invoicesync_api.i18n.middleware import ASKED, CHOSEN, language_of

LANGUAGE_COOKIE = "invoicesync_console_language"
ONE_YEAR = 365 * 24 * 3600
# Each language named in itself, for the switch (never translated).
ENDONYMS = {
    "en": "English",
    "de": "Deutsch",
    "nl": "Nederlands",
    "es": "Español",
    "fr": "Français",
}


@dataclass(frozen=True)
class Translator:
    locale: str
    catalogue: gettext.NullTranslations

    def gettext(self, message: str) -> str:
        return self.catalogue.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.catalogue.ngettext(singular, plural, n)


def language(request: Request) -> str:
    """The switch's choice, else the request's language (``Accept-Language``, else the
    partner's default once the key is known: ``deps.authenticate`` sets it)."""
    chosen = supported(request.cookies.get(LANGUAGE_COOKIE))
    if chosen is None:
        return language_of(request.scope)
    language_of(request.scope)
    state = request.scope["state"]
    state[CHOSEN], state[ASKED] = chosen, True  # Content-Language names it too
    return chosen


def translator(request: Request) -> Translator:
    chosen = language(request)
    return Translator(chosen, catalog.translations(chosen, catalog.CONSOLE))


def remember(request: Request, response: Response, chosen: str) -> None:
    """The switch's choice, for a year; not a secret, so readable before sign-in."""
    response.set_cookie(
        LANGUAGE_COOKIE,
        chosen,
        max_age=ONE_YEAR,
        path=PATH,
        httponly=True,
        samesite="lax",
        secure=not is_loopback_http(request),
    )


def _(message: str) -> str:
    """Marks a text for extraction where no request is at hand (module constants);
    translated when shown, through the request's ``Translator``."""
    return message
