"""Exact's dates: ``/Date(ms)/`` going out, ISO-8601 (or ``/Date(ms)/``) coming in.

Datetimes are kept naive in UTC, as Exact reports them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_WCF = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def to_odata(value: datetime) -> str:
    """``/Date(ms)/`` for a naive-UTC (or aware) datetime."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return f"/Date({round(aware.timestamp() * 1000)})/"


def parse_datetime(text: str) -> datetime:
    """Parse ISO-8601 (date or date-time, optional Z/offset) or ``/Date(ms)/``."""
    text = text.strip()
    match = _WCF.match(text)
    if match:
        return from_epoch(int(match.group(1)) / 1000)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed
