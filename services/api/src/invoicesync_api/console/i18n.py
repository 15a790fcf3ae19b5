"""Every text the console shows goes through ``Translator.gettext`` (``_`` in templates).

English only for now: the translations are gettext's null catalogue. Babel catalogues
(en/de/nl/es/fr) plug in at ``translator``: load ``gettext.translation("console",
localedir, [locale])`` for the request's language instead; templates and code stay as
they are (``pybabel extract`` finds ``_()`` in .py and, with jinja2.ext.babel_extract,
in the templates)."""

from __future__ import annotations

import gettext
from dataclasses import dataclass

from fastapi import Request

DEFAULT_LOCALE = "en"


@dataclass(frozen=True)
class Translator:
    locale: str
    catalogue: gettext.NullTranslations

    def gettext(self, message: str) -> str:
        return self.catalogue.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.catalogue.ngettext(singular, plural, n)


_ENGLISH = Translator(DEFAULT_LOCALE, gettext.NullTranslations())


def translator(request: Request) -> Translator:
    """The request's language; one catalogue (English) until the catalogues exist."""
    del request  # Accept-Language or a chosen language decides here once there is a choice
    return _ENGLISH


def _(message: str) -> str:
    """Marks a text for extraction where no request is at hand (module constants);
    translated when shown, through the request's ``Translator``."""
    return message
