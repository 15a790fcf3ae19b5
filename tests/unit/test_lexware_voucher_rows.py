"""A voucherlist lookup reads few pages: it stops at the last one, an empty one, its page
limit, or (pages come newest voucher date first) a page that reaches past its day."""

from __future__ import annotations

import uuid
from typing import Any

from connector_lexware.client import LexwareClient

Page = tuple[list[dict[str, Any]], bool]


class Pages(LexwareClient):
    """The client with its pages given, recording which ones are read."""

    def __init__(self, *pages: Page) -> None:
        self._pages = pages
        self.read: list[int] = []

    async def page(
        self, integration_id: uuid.UUID, scope: str, path: str, params: dict[str, str], number: int
    ) -> Page:
        assert path == "v1/voucherlist"
        self.read.append(number)
        return self._pages[number]


def rows(*days: str) -> list[dict[str, Any]]:
    return [
        {"id": f"v-{day}-{n}", "voucherDate": f"{day}T00:00:00.000+01:00"}
        for n, day in enumerate(days)
    ]


async def test_rows_are_read_until_the_last_page() -> None:
    client = Pages((rows("2026-11-20"), False), (rows("2026-11-20"), True), (rows("x"), False))
    found = await client.voucher_rows(uuid.uuid4(), "s", {}, pages=4)
    assert client.read == [0, 1] and len(found) == 2


async def test_an_empty_page_or_the_page_limit_ends_the_lookup() -> None:
    empty = Pages((rows("2026-11-20"), False), ([], False), (rows("2026-11-20"), True))
    assert len(await empty.voucher_rows(uuid.uuid4(), "s", {}, pages=4)) == 1
    assert empty.read == [0, 1]
    endless = Pages(*[(rows("2026-11-20"), False)] * 6)
    assert len(await endless.voucher_rows(uuid.uuid4(), "s", {}, pages=4)) == 4
    assert endless.read == [0, 1, 2, 3]


async def test_a_page_reaching_past_the_day_is_the_last_read_when_asked() -> None:
    pages = (
        (rows("2026-11-21", "2026-11-20"), False),
        (rows("2026-11-20", "2026-11-19"), False),
        (rows("2026-11-18"), True),
    )
    dated = Pages(*pages)
    found = await dated.voucher_rows(uuid.uuid4(), "s", {}, pages=4, since="2026-11-20")
    assert dated.read == [0, 1] and len(found) == 4
    undated = Pages(*pages)
    assert len(await undated.voucher_rows(uuid.uuid4(), "s", {}, pages=4)) == 5
    assert undated.read == [0, 1, 2]
