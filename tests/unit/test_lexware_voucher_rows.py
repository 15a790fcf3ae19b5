"""A voucherlist lookup reads few pages: it stops at the last one, an empty one, its page
limit, or (pages come newest voucher date first) a page that reaches past its day."""

from __future__ import annotations

import uuid
from typing import Any

from connector_lexware.client import LexwareClient

DAY = "2026-11-20"
Page = tuple[list[dict[str, Any]], bool]


class Pages(LexwareClient):
    """The client with its pages given, recording which ones are read and how."""

    def __init__(self, *pages: Page) -> None:
        self._pages = pages
        self.read: list[int] = []
        self.params: list[dict[str, str]] = []

    async def page(
        self, integration_id: uuid.UUID, scope: str, path: str, params: dict[str, str], number: int
    ) -> Page:
        assert path == "v1/voucherlist"
        self.read.append(number)
        self.params.append(params)
        return self._pages[number]


def rows(*days: str) -> list[dict[str, Any]]:
    return [
        {"id": f"v-{day}-{n}", "voucherDate": f"{day}T00:00:00.000+01:00"}
        for n, day in enumerate(days)
    ]


async def lookup(
    client: Pages,
    *,
    filters: dict[str, str] | None = None,
    contact_id: str | None = None,
    stop_past_day: bool = False,
) -> list[dict[str, Any]]:
    return await client.voucher_rows(
        uuid.uuid4(),
        "scope",
        filters or {},
        day=DAY,
        contact_id=contact_id,
        pages=4,
        stop_past_day=stop_past_day,
    )


async def test_rows_are_read_until_the_last_page() -> None:
    client = Pages((rows(DAY), False), (rows(DAY), True), (rows(DAY), False))
    assert len(await lookup(client)) == 2
    assert client.read == [0, 1]


async def test_an_empty_page_or_the_page_limit_ends_the_lookup() -> None:
    empty = Pages((rows(DAY), False), ([], False), (rows(DAY), True))
    assert len(await lookup(empty)) == 1
    assert empty.read == [0, 1]
    endless = Pages(*[(rows(DAY), False)] * 6)
    assert len(await lookup(endless)) == 4
    assert endless.read == [0, 1, 2, 3]


async def test_a_page_reaching_past_the_day_is_the_last_read_when_asked() -> None:
    pages = (
        (rows("2026-11-21", DAY), False),
        (rows(DAY, "2026-11-19"), False),
        (rows("2026-11-18"), True),
    )
    dated = Pages(*pages)
    assert len(await lookup(dated, stop_past_day=True)) == 4
    assert dated.read == [0, 1]
    undated = Pages(*pages)
    assert len(await lookup(undated)) == 5
    assert undated.read == [0, 1, 2]


async def test_every_page_asks_for_the_filters_the_day_and_the_contact_when_known() -> None:
    filters = {"voucherType": "invoice", "voucherStatus": "open"}
    known = Pages((rows(DAY), False), (rows(DAY), True))
    await lookup(known, filters=filters, contact_id="c-1")
    asked = {**filters, "voucherDateFrom": DAY, "voucherDateTo": DAY, "contactId": "c-1"}
    assert known.params == [asked, asked]
    unknown = Pages((rows(DAY), True))
    await lookup(unknown, filters=filters)
    assert unknown.params == [{**filters, "voucherDateFrom": DAY, "voucherDateTo": DAY}]
