"""Per-division master data (GL accounts, VAT codes, journals) read once and kept a while.

Kept, because every document needs it and Exact counts each call against 60 a minute; not
for ever, because the bookkeeper fixes what a failure names ("add a VAT code in Exact") and
retries: the list that failed a lookup is forgotten for that division (``forget``), so the
retry reads it afresh, and any list older than its time to live (on the shared clock,
``INVOICESYNC_EXACT_MASTER_DATA_TTL_SECONDS``) is read again anyway. Many documents naming
the same missing code cost one list read each; the failure brake pauses the integration
after a few of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from invoicesync_shared import clock

DEFAULT_TTL = timedelta(minutes=5)

K = TypeVar("K", bound=Hashable)


@dataclass
class _Loaded(Generic[K]):
    values: dict[K, str]
    at: datetime


class DivisionLists(Generic[K]):
    """One list per division: key → value (code → ID, percentage → code)."""

    def __init__(self, ttl: timedelta = DEFAULT_TTL) -> None:
        self._ttl = ttl
        self._lists: dict[int, _Loaded[K]] = {}

    async def find(
        self,
        division: int,
        key: K,
        load: Callable[[], Awaitable[dict[K, str]]],
        *,
        read_since: datetime | None = None,
    ) -> tuple[str | None, dict[K, str]]:
        """The value of ``key`` (None if the division's list has none), with the whole
        list. A list older than the time to live, or read before ``read_since`` (the
        integration was resumed: its cause was fixed), is read again."""
        now = clock.now()
        loaded = self._lists.get(division)
        stale = loaded is not None and read_since is not None and loaded.at < read_since
        if loaded is None or stale or now - loaded.at >= self._ttl:
            loaded = self._lists[division] = _Loaded(await load(), now)
        return loaded.values.get(key), loaded.values

    def forget(self, division: int) -> None:
        """Drop the division's list: a lookup in it failed a document, and the retry
        after the bookkeeper's fix must see Exact as it is now."""
        self._lists.pop(division, None)
