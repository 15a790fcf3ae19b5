"""The gettext catalogues, read from the committed ``.po`` files when the API starts.

The ``.po`` files are the one source: Babel compiles them in memory at import
(``read_po`` then ``write_mo``), so there is no generated ``.mo`` to keep in step and no
build step — ``make run`` on a fresh machine reads them as they are. Templates use named
``{placeholders}`` (``str.format``); ``N_`` marks a text for extraction (``pybabel
extract -k N_``) without translating it where it is written.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from invoicesync_api.i18n.languages import LANGUAGES

LOCALES = Path(__file__).parent / "locales"
DOMAIN = "messages"
CONSOLE = "console"  # the console's pages: Jinja's %-style placeholders, its own catalogue
DOMAINS = (DOMAIN, CONSOLE)


def N_(text: str) -> str:
    """Marks ``text`` for the catalogue; translated where it is read (gettext_noop)."""
    return text


def po_path(language: str, domain: str = DOMAIN) -> Path:
    return LOCALES / language / "LC_MESSAGES" / f"{domain}.po"


@cache
def catalog(language: str, domain: str = DOMAIN) -> Catalog:
    with po_path(language, domain).open("rb") as po:
        return read_po(po, locale=language, domain=domain)


@cache
def translations(language: str, domain: str = DOMAIN) -> Translations:
    mo = io.BytesIO()
    write_mo(mo, catalog(language, domain))
    mo.seek(0)
    return Translations(mo, domain=domain)


def gettext(language: str, msgid: str) -> str:
    """The text in ``language``; the English template itself when it is not catalogued."""
    return translations(language).gettext(msgid)


def render(language: str, template: str, params: Mapping[str, Any] | None = None) -> str:
    """The template in ``language`` with its placeholders filled."""
    text = gettext(language, template)
    return text.format(**params) if params else text


def load_all() -> None:
    """Read every catalogue now (at start-up), so a broken one stops the API at once."""
    for language in LANGUAGES:
        for domain in DOMAINS:
            translations(language, domain)
