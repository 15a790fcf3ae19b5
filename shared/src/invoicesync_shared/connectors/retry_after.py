"""The ``Retry-After`` header, read the same way for every connector.

RFC 9110 allows a number of seconds or an HTTP date. A date is read against the shared
clock (the accounting system's time, which a test's sandbox clock moves); a wait already
past is no wait, and anything unreadable is no answer (the caller's fallback applies).
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import httpx

from invoicesync_shared import clock


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait before calling again, or None without a readable header."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if at.tzinfo is None:
        return None  # HTTP dates are GMT; one without a zone is not one
    return max((at - clock.now()).total_seconds(), 0.0)
