"""A reconciliation's failure is stored in English and answered in the reader's language:
its parameters are read back from the stored text with the code's English template, so
the template has to be the text the connector runtime writes, word for word."""

from __future__ import annotations

import ast
from pathlib import Path
from string import Formatter

import pytest

from invoicesync_api.i18n import reconciliation_failures as failures
from invoicesync_shared.connectors import reconciliation as runtime

WRITTEN_BY_THE_RUNTIME = ("integration_inactive", "not_supported", "unavailable")


def skeleton(template: str) -> str:
    return "".join(
        literal + ("{}" if name is not None else "")
        for literal, name, _, _ in Formatter().parse(template)
    )


def runtime_texts() -> set[str]:
    """The runtime's string literals and f-strings, each value of an f-string as ``{}``."""
    tree = ast.parse(Path(runtime.__file__).read_text())
    texts = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            texts.add(
                "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)
            )
    return {t for t in texts if isinstance(t, str)}


@pytest.mark.parametrize("code", WRITTEN_BY_THE_RUNTIME)
def test_the_templates_are_the_texts_the_connector_runtime_stores(code: str) -> None:
    assert skeleton(failures.FAILURES[code]) in runtime_texts()


def test_a_stored_text_is_read_back_and_translated() -> None:
    stored = failures.english("entries_lost", {"arrived": 3, "read": 5})
    assert stored == "Only 3 of the 5 entries read arrived; reconcile again."
    german = failures.failure_message("de", "entries_lost", stored)
    assert "3" in german and "5" in german and "Abstimmung" in german
    unavailable = "yuki could not be read (timed out; twice); try again later."
    dutch = failures.failure_message("nl", "unavailable", unavailable)
    assert dutch == "yuki kon niet worden gelezen (timed out; twice); probeer het later opnieuw."


def test_a_text_other_than_the_codes_is_answered_as_stored() -> None:
    assert failures.failure_message("de", "entries_lost", "Some entries got lost.") == (
        "Some entries got lost."
    )
    assert failures.failure_message("fr", "something_new", "As written.") == "As written."
