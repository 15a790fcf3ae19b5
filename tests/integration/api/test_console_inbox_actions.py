"""The inbox's two actions for duplicate booking numbers (issue 23 item 2): the repair,
through the integration's confirmation page (``integrations.actions.repair_plan``), and
"open in the accounting system", a link to each flagged document's entry (the sandbox's
page of it here, no ``*_base_url`` being set). The browser follows both in
tests/e2e/test_console_integrations.py."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import text

from tests.integration.api.conftest import add_integration, invoice, new_partner
from tests.integration.api.test_console import causes_on, key_of, signed_in


def sections_of(html: str) -> dict[str, str]:
    return dict(zip(causes_on(html), html.split('<section class="problem"')[1:], strict=True))


def entry_links(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)" data-action="open-entry"', html)


def back_links(html: str) -> list[str]:
    """The repair confirmation's Back and Cancel links."""
    return re.findall(r'<a href="([^"]*)" data-action="(?:back|cancel)"', html)


async def test_flagged_numbers_offer_the_repair_and_open_their_entries(
    api_url: str, sessionmaker: Any, engine: Any
) -> None:
    with new_partner(api_url, "Flagged") as partner:
        client = partner.post("/v1/clients", json={"name": "Dubbel BV"}).json()["id"]
        exact = await add_integration(sessionmaker, client)
        lexware = await add_integration(sessionmaker, client, system="lexware")
        ids = [
            partner.post("/v1/invoices", json=invoice(client, number)).json()["id"]
            for number in ("D-1", "D-2")
        ]
        entries = [str(uuid.uuid4()), str(uuid.uuid4())]
        async with engine.begin() as connection:  # as sync.duplicates leaves them
            for this, other, entry in ((ids[0], ids[1], entries[0]), (ids[1], ids[0], entries[1])):
                await connection.execute(
                    text(
                        "UPDATE document_syncs SET status = 'booked', booking_number = '7',"
                        " remote_id = :entry, duplicate_of = :other"
                        " WHERE document_id = :id AND integration_id = :exact"
                    ),
                    {"entry": entry, "other": other, "id": this, "exact": exact},
                )
            await connection.execute(
                text(
                    "UPDATE document_syncs SET status = 'booked', booking_number = 'RE-1',"
                    " remote_id = 'voucher-1', error_code = 'remote_entry_missing'"
                    " WHERE document_id = :id AND integration_id = :lexware"
                ),
                {"id": ids[0], "lexware": lexware},
            )
        with signed_in(api_url, key_of(partner)) as page:
            shown = page.get("/console/inbox").text
            sections = sections_of(shown)
            assert set(sections) == {
                "duplicate_booking_number exact",
                "remote_entry_missing lexware",
            }
            duplicates = sections["duplicate_booking_number exact"]
            assert "2 documents are held up by this." in duplicates
            assert "Booking number 7 is shared with another document." in duplicates
            links = entry_links(duplicates)
            assert sorted(link.rsplit("/", 1)[1] for link in links) == sorted(entries)
            assert all("/_sandbox/exact/divisions/1/entries/" in link for link in links)
            assert "Open 7 in Exact Online" in duplicates
            repair = (
                f'href="/console/integrations/{exact}/repair?return_to=%2Fconsole%2Finbox" '
                'data-action="repair"'
            )
            assert duplicates.count(repair) == 1  # once per integration, not per document
            assert 'data-action="retry"' not in duplicates  # booked: nothing to retry
            missing = sections["remote_entry_missing lexware"]
            [voucher] = entry_links(missing)
            assert voucher.endswith("/_sandbox/lexware/vouchers/voucher-1")
            assert f'href="/console/integrations/{lexware}/repair?return_to=' in missing

            # The link leads to the repair's confirmation: what will happen, then the button.
            # Back and Cancel lead to the inbox it came from, also after another date.
            confirm = page.get(f"/console/integrations/{exact}/repair?return_to=%2Fconsole%2Finbox")
            assert confirm.status_code == 200, confirm.text
            assert 'id="duplicates" data-count="2"' in confirm.text
            assert "Repair now" in confirm.text
            assert back_links(confirm.text) == ["/console/inbox", "/console/inbox"]
            assert '<input type="hidden" name="return_to" value="/console/inbox">' in confirm.text
            from_integration = page.get(f"/console/integrations/{exact}/repair").text
            assert back_links(from_integration) == [f"/console/integrations/{exact}"] * 2

            german = page.get("/console/inbox", headers={"Accept-Language": "de"}).text
            assert "Doppelte Nummern von Dubbel BV in Exact Online reparieren" in german
            assert "7 in Exact Online öffnen" in german

        reader = partner.post("/v1/api-keys", json={"name": "reader", "scopes": ["read"]})
        with signed_in(api_url, reader.json()["api_key"]) as page:
            shown = page.get("/console/inbox").text
            assert len(entry_links(shown)) == 3  # anyone may look
            assert 'data-action="repair"' not in shown  # only an admin key repairs
