"""Vouchers a lookup has opened, kept while Lexware says they are unchanged.

A lookup after a lost answer opens every voucher of the document's day with its total, at
Lexware's 2 requests/s; the next lookups of that client's day (the second one after the
settle time, and every other document in doubt) open the same vouchers again. The
voucherlist row carries ``updatedDate``, so a voucher opened before is read again only
when it changed since (a bookkeeper's edit shows there at once).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

# About a day of a busy organisation's vouchers, a few KiB each.
DEFAULT_SIZE = 5_000


class OpenedVouchers:
    """The least recently used are forgotten beyond ``size``."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._size = size
        self._vouchers: OrderedDict[tuple[str, str], tuple[str, dict[str, Any]]] = OrderedDict()

    def get(self, scope: str, row: dict[str, Any]) -> dict[str, Any] | None:
        """The voucher of a voucherlist ``row`` as opened before, if it has not changed."""
        updated = str(row.get("updatedDate") or "")
        key = (scope, str(row["id"]))
        kept = self._vouchers.get(key)
        if not updated or kept is None or kept[0] != updated:
            return None
        self._vouchers.move_to_end(key)
        return kept[1]

    def put(self, scope: str, voucher: dict[str, Any]) -> None:
        updated = str(voucher.get("updatedDate") or "")
        if not updated:
            return
        key = (scope, str(voucher["id"]))
        self._vouchers[key] = (updated, voucher)
        self._vouchers.move_to_end(key)
        while len(self._vouchers) > self._size:
            self._vouchers.popitem(last=False)
