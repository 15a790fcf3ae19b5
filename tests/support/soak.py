"""Soak helpers: the size of a run, the simulated calendar (the sandbox's clock, which every
service of the stack follows), and the figures a month unattended must reach."""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

ZONE = ZoneInfo("Europe/Amsterdam")  # every client's time zone (the API's default)
NIGHTLY_HOUR = 2
MORNING = time(9)
BUSY_MORNING = time(10)  # the busy day's posts: after yesterday's Exact day has ended


@dataclass(frozen=True)
class SoakSize:
    """Small in ``make test``, full in ``make soak``; the scenarios are the same."""

    name: str
    clients: int  # over the three systems; client 0 (Exact) stays idle until the last day
    per_day: int  # documents per client and day
    days: int = 30
    exact_daily_limit: int = 60  # calls per division and day (Exact's is 5,000)
    busy_day: int = 15  # one Exact client posts more than its day allows
    connector_down_day: int = 5  # the Yuki connector is down from this morning to the next
    api_down_night: int = 8  # the API is down across the nightly hour after this day
    lexware_revoked_day: int = 12
    exact_withdrawn_day: int = 20

    @classmethod
    def from_env(cls) -> SoakSize:
        full = os.environ.get("INVOICESYNC_SOAK_SIZE", "small") == "full"
        size = cls("full", 20, 3) if full else cls("small", 6, 1)
        return replace(size, days=int(os.environ.get("INVOICESYNC_SOAK_DAYS", size.days)))


class Calendar:
    """The sandbox's clock, read and moved forward; the services follow it within half a
    second (``INVOICESYNC_CLOCK_URL``)."""

    def __init__(self, sandbox_url: str) -> None:
        self._url = f"{sandbox_url}/_sandbox/clock"

    def now(self) -> datetime:
        return datetime.fromtimestamp(httpx.get(self._url).json()["now"], UTC)

    def advance_to(self, moment: datetime) -> None:
        seconds = (moment - self.now()).total_seconds()
        if seconds > 0:
            moved = httpx.post(f"{self._url}/advance", json={"seconds": seconds})
            assert moved.status_code == 200, moved.text

    def local(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=ZONE).astimezone(UTC)

    def nightly_slot(self, night: date) -> datetime:
        """When the night's runs are due (the nightly hour, local time)."""
        return self.local(night, time(NIGHTLY_HOUR))


def night_of(started_at: datetime) -> date:
    """The night a nightly run belongs to: the local date of the nightly hour before it."""
    local = started_at.astimezone(ZONE)
    slot = datetime.combine(local.date(), time(NIGHTLY_HOUR), tzinfo=ZONE)
    return local.date() if local >= slot else local.date() - timedelta(days=1)


@dataclass
class Nights:
    """Which nights each integration ran, against the nights the soak passed."""

    passed: list[date] = field(default_factory=list)
    runs: dict[str, Counter[date]] = field(default_factory=lambda: defaultdict(Counter))
    catch_ups: int = 0

    def record(self, runs: list[dict[str, Any]]) -> None:
        for run in runs:
            if run["trigger"] != "nightly":
                continue
            started = datetime.fromisoformat(run["started_at"])
            night = night_of(started)
            for integration_id in run["integration_ids"]:
                self.runs[integration_id][night] += 1
            slot = datetime.combine(night, time(NIGHTLY_HOUR), tzinfo=ZONE)
            if started - slot > timedelta(minutes=30):
                self.catch_ups += 1

    def missed(self, integration_ids: list[str]) -> list[str]:
        return [
            f"{i}: {night}"
            for i in integration_ids
            for night in self.passed
            if self.runs[i][night] == 0
        ]

    def doubled(self) -> list[str]:
        return [
            f"{i}: {night} x{n}"
            for i, nights in self.runs.items()
            for night, n in nights.items()
            if n > 1
        ]


@dataclass
class Break:
    """A connection broken on purpose, and how long (simulated seconds; the clock is not
    moved while the soak waits for the announcement) until it was announced."""

    what: str
    integration_id: str
    at: datetime
    webhook_after: float | None = None
    notification_after: float | None = None

    def announced_within(self, seconds: float) -> bool:
        return all(
            after is not None and after <= seconds
            for after in (self.webhook_after, self.notification_after)
        )


def rate_limited(sandbox_url: str, divisions: list[str]) -> dict[str, int]:
    """429s the sandbox served: per Exact division, and Lexware's in all."""
    served = {
        f"exact {d}": int(
            httpx.get(f"{sandbox_url}/_sandbox/exact/divisions/{d}").json()["rate_limited"]
        )
        for d in divisions
    }
    lexware = httpx.get(f"{sandbox_url}/_sandbox/lexware/rate-limit").json()
    served["lexware"] = int(lexware["rate_limited"])
    return served
