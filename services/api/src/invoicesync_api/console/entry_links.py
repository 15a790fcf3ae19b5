""" "Open in the accounting system": where a person sees a document's entry in Exact,
Lexware or Yuki, built from what the send stored (the entry's id) and the integration's
book (Exact's division, Yuki's administration).

UNVERIFIED: none of the three web addresses below has been opened against a real account;
they follow what the systems publish (see README, "Console") and may need changing. Under
the sandbox (no ``*_base_url`` set) every link goes to the sandbox's read-only page of the
entry instead (``/_sandbox/{system}/entries/...``)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from invoicesync_api.db.models import DocumentSync
from invoicesync_api.settings import ApiSettings
from invoicesync_shared.db.models import Integration

# UNVERIFIED: Exact Online's page of a sales entry in a division; its host is the
# country's Exact site, the one the API is reached at (start.exactonline.nl, .be, .de ...).
EXACT_ENTRY = "{base}/docs/SlsEntry.aspx?{query}"
# UNVERIFIED: the "permalink" form of lexoffice's (Lexware Office's) web app for a voucher.
LEXWARE_VOUCHER = "https://app.lexoffice.de/permalink/vouchers/view/{id}"
# UNVERIFIED: Yuki's web app, the administration's document with the id the web service
# returned.
YUKI_DOCUMENT = "https://www.yukiworks.nl/domain/document?{query}"


def entry_url(settings: ApiSettings, integration: Integration, state: DocumentSync) -> str | None:
    """The entry's page, or None when nothing was booked (no id) or the book is unknown."""
    entry = state.remote_id
    if not entry:
        return None
    system = integration.system
    if system == "exact":
        division = integration.settings.get("division")
        if division is None:
            return None
        if not settings.exact_base_url:
            return _sandbox(settings, f"exact/divisions/{division}/entries/{quote(entry)}")
        query = urlencode({"_Division_": division, "EntryID": entry})
        return EXACT_ENTRY.format(base=settings.exact_base_url.rstrip("/"), query=query)
    if system == "lexware":
        if not settings.lexware_base_url:
            return _sandbox(settings, f"lexware/vouchers/{quote(entry)}")
        return LEXWARE_VOUCHER.format(id=quote(entry))
    if system == "yuki":
        administration = integration.settings.get("administration_id")
        if administration is None:
            return None
        if not settings.yuki_base_url:
            path = f"yuki/administrations/{quote(str(administration))}/documents/{quote(entry)}"
            return _sandbox(settings, path)
        return YUKI_DOCUMENT.format(query=urlencode({"adm": administration, "id": entry}))
    return None


def _sandbox(settings: ApiSettings, path: str) -> str:
    return f"{settings.sandbox_url.rstrip('/')}/_sandbox/{path}"
