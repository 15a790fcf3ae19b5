"""Which of the five languages a reader gets: ``Accept-Language`` (RFC 9110 §12.5.4,
with q-values) matched by Babel's negotiation, else the partner's default, else English."""

from __future__ import annotations

from babel.core import negotiate_locale

LANGUAGES = ("en", "de", "nl", "es", "fr")
DEFAULT = "en"


def preferred(header: str) -> list[str]:
    """The header's language ranges, most wanted first (q=0 means "not this")."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, parameters = part.strip().partition(";")
        tag, quality = tag.strip(), 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(header: str | None) -> str | None:
    """The language the header asks for, or None when it asks for none of ours (or for
    any, ``*``): the partner's default applies then."""
    if not header:
        return None
    wanted = [tag for tag in preferred(header) if tag != "*"]
    return negotiate_locale(wanted, LANGUAGES, sep="-")


def supported(language: str | None) -> str | None:
    return language if language in LANGUAGES else None
