"""A key or administration Yuki refuses when it is typed in (connect, settings, relink):
the console's form names the field the refusal is about, in the reader's language, in
words about what to enter (not the sync error's "the document is sent then")."""

from __future__ import annotations

from connector_yuki.errors import INVALID_ACCESS_KEY
from invoicesync_api.console.refusals import refusal
from invoicesync_api.errors.exceptions import ConnectionFailed

SHOWN = ("access_key", "administration_id", "start_date", "default_gl_account")


def refused(code: str, english: str) -> ConnectionFailed:
    return ConnectionFailed(english, system="yuki", extra={"reason": code})


def test_a_refused_access_key_is_about_the_access_key_field() -> None:
    exc = refused("invalid_access_key", INVALID_ACCESS_KEY)
    english = refusal("en", exc, SHOWN)
    assert (english.field, english.message) == ("access_key", INVALID_ACCESS_KEY)
    german = refusal("de", exc, SHOWN)
    assert german.field == "access_key"
    assert german.message == (
        "Yuki hat den Zugriffsschlüssel nicht akzeptiert. Erstellen Sie in Yuki unter "
        "Einstellungen → Webservices einen neuen und geben Sie ihn hier ein."
    )


def test_an_administration_the_key_cannot_reach_is_about_the_administration_field() -> None:
    exc = refused("administration_not_found", "The Yuki access key has no administration 'x'.")
    dutch = refusal("nl", exc, SHOWN)
    assert dutch.field == "administration_id"
    assert dutch.message.startswith("De Yuki-toegangssleutel kan deze administratie niet")
    # A form without the field (the settings form has no administration) names none.
    assert refusal("nl", exc, ("start_date", "access_key")).field is None
