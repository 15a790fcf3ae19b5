"""English texts stored with their parameters filled in, translated when answered.

Some texts are stored as written (a failure's message, why an endpoint was disabled), not
as a code with parameters. The parameters are read back with the text's English template;
a text that the template does not give back exactly is answered as stored, never half
translated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from string import Formatter

from invoicesync_api.i18n.catalog import render


@cache
def _pattern(template: str) -> re.Pattern[str]:
    parts = []
    for literal, name, _, _ in Formatter().parse(template):
        parts.append(re.escape(literal))
        if name is not None:
            parts.append(f"(?P<{name}>.+?)")
    return re.compile("".join(parts), re.DOTALL)


def read_back(template: str, stored: str) -> dict[str, str] | None:
    """The parameters ``template`` was filled with to give ``stored``; None if it wasn't."""
    found = _pattern(template).fullmatch(stored)
    return None if found is None else found.groupdict()


def translated(language: str, templates: Iterable[str], stored: str) -> str:
    """``stored`` in ``language`` by the first of ``templates`` that gives it back."""
    for template in templates:
        params = read_back(template, stored)
        if params is not None:
            return render(language, template, params)
    return stored
