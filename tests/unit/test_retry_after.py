"""Retry-After as RFC 9110 allows it: seconds or an HTTP date (against the shared clock)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from invoicesync_shared import clock
from invoicesync_shared.clock import SystemClock
from invoicesync_shared.connectors.retry_after import retry_after

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class Fixed:
    def now(self) -> datetime:
        return NOW


@pytest.fixture(autouse=True)
def fixed_clock() -> Iterator[None]:
    clock.use(Fixed())
    yield
    clock.use(SystemClock())


def answer(value: str | None) -> httpx.Response:
    return httpx.Response(429, headers={} if value is None else {"Retry-After": value})


def test_seconds() -> None:
    assert retry_after(answer("120")) == 120.0
    assert retry_after(answer("0")) == 0.0


def test_an_http_date_is_read_against_the_shared_clock() -> None:
    later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert retry_after(answer(later)) == 90.0
    earlier = format_datetime(NOW - timedelta(minutes=5), usegmt=True)
    assert retry_after(answer(earlier)) == 0.0  # already past: no wait


def test_nothing_readable_is_no_answer() -> None:
    for value in (None, "", "soon", "-5", "1.5", "Fri, 04 Dec 2026 12:01:30"):
        assert retry_after(answer(value)) is None, value
