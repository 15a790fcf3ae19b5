"""Per-division master data (GL accounts, VAT codes) read once and kept for a while.

Kept, because every document needs it and Exact counts each call against 60 a minute; not
for ever, because the bookkeeper fixes what a failure names ("add a VAT code in Exact") and
retries: a lookup that misses reads the list again before it fails (at most once a
minute), and a list older than ``MAX_AGE`` (on the shared clock) is read again anyway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from invoicesync_shared import clock

MAX_AGE = timedelta(hours=1)
# A miss reads the list again at most this often: many documents naming the same missing
# code must not spend the division's 60 calls a minute on the same list.
REREAD_AFTER = timedelta(minutes=1)

K = TypeVar("K", bound=Hashable)


@dataclass
class _Loaded(Generic[K]):
    values: dict[K, str]
    at: datetime


class DivisionLists(Generic[K]):
    """One list per division: key → value (code → ID, percentage → code)."""

    def __init__(self) -> None:
        self._lists: dict[int, _Loaded[K]] = {}

    async def find(
        self,
        division: int,
        key: K,
        load: Callable[[], Awaitable[dict[K, str]]],
        *,
        reread_on_miss: bool = True,
        read_since: datetime | None = None,
    ) -> tuple[str | None, dict[K, str]]:
        """The value of ``key`` (None if the division has none, read afresh to be sure
        unless the list is younger than ``REREAD_AFTER``), with the whole list. A list read
        before ``read_since`` (the integration was resumed: its cause was fixed) is read
        again."""
        now = clock.now()
        loaded = self._lists.get(division)
        stale = loaded is not None and read_since is not None and loaded.at < read_since
        if loaded is None or stale or now - loaded.at >= MAX_AGE:
            loaded = self._lists[division] = _Loaded(await load(), now)
        elif key not in loaded.values and reread_on_miss and now - loaded.at >= REREAD_AFTER:
            loaded = self._lists[division] = _Loaded(await load(), now)  # added since?
        return loaded.values.get(key), loaded.values
