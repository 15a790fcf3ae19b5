"""Where "open in the accounting system" leads: each system's web page of the entry (the
patterns in console/entry_links.py, unverified against real accounts), the sandbox's own
page when no ``*_base_url`` is set, and nothing when nothing was booked."""

from __future__ import annotations

import uuid
from typing import Any

from invoicesync_api.console.entry_links import entry_url
from invoicesync_api.db.models import DocumentSync
from invoicesync_api.settings import ApiSettings
from invoicesync_shared.db.models import Integration

ENTRY = str(uuid.UUID(int=7))


def integration(system: str, **settings: Any) -> Integration:
    return Integration(id=uuid.uuid4(), system=system, settings=settings)


def state(remote_id: str | None = ENTRY) -> DocumentSync:
    return DocumentSync(remote_id=remote_id, booking_number="7")


SANDBOX = ApiSettings(sandbox_url="http://127.0.0.1:8010")
LIVE = ApiSettings(
    sandbox_url="http://127.0.0.1:8010",
    exact_base_url="https://start.exactonline.be",
    lexware_base_url="https://api.lexware.io",
    yuki_base_url="https://api.yukiworks.nl",
)


def test_under_the_sandbox_each_system_links_to_the_sandboxs_page_of_the_entry() -> None:
    assert entry_url(SANDBOX, integration("exact", division=42), state()) == (
        f"http://127.0.0.1:8010/_sandbox/exact/divisions/42/entries/{ENTRY}"
    )
    assert entry_url(SANDBOX, integration("lexware"), state("v-1")) == (
        "http://127.0.0.1:8010/_sandbox/lexware/vouchers/v-1"
    )
    assert entry_url(SANDBOX, integration("yuki", administration_id="adm-1"), state("d 1")) == (
        "http://127.0.0.1:8010/_sandbox/yuki/administrations/adm-1/documents/d%201"
    )


def test_live_links_follow_each_systems_web_address() -> None:
    exact = entry_url(LIVE, integration("exact", division=42), state())
    assert exact == (
        f"https://start.exactonline.be/docs/SlsEntry.aspx?_Division_=42&EntryID={ENTRY}"
    )
    assert entry_url(LIVE, integration("lexware"), state("v-1")) == (
        "https://app.lexoffice.de/permalink/vouchers/view/v-1"
    )
    yuki = entry_url(LIVE, integration("yuki", administration_id="adm-1"), state("d-1"))
    assert yuki is not None and yuki.startswith("https://") and "adm=adm-1" in yuki


def test_nothing_booked_or_no_book_known_gives_no_link() -> None:
    assert entry_url(SANDBOX, integration("exact", division=42), state(None)) is None
    assert entry_url(LIVE, integration("exact"), state()) is None
    assert entry_url(LIVE, integration("yuki"), state()) is None
