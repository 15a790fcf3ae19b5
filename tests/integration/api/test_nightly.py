"""Nightly runs: one per night at the integration's hour, a missed hour caught up the same
night, and the settings changed with PATCH. Time is passed to the scheduler's tick, as the
shared clock would give it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import SyncRun
from invoicesync_api.workers.scheduler import NightlyScheduler, last_night
from tests.integration.api.conftest import EXACT_SETTINGS, add_integration, invoice

CONNECTED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
# 02:00 in Europe/Amsterdam (the test client's zone) on 24 November.
TWO_AM = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


async def nightly_runs(
    sessionmaker: async_sessionmaker[AsyncSession], integration_id: uuid.UUID
) -> list[datetime]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(SyncRun.started_at)
            .where(SyncRun.trigger == "nightly", SyncRun.integration_ids.contains([integration_id]))
            .order_by(SyncRun.started_at)
        )
        return list(rows)


async def finish_runs(
    sessionmaker: async_sessionmaker[AsyncSession], integration_id: uuid.UUID
) -> None:
    async with sessionmaker.begin() as session:
        for run in await session.scalars(
            select(SyncRun).where(SyncRun.integration_ids.contains([integration_id]))
        ):
            run.status = "finished"


def test_last_night_is_the_latest_local_hour_at_or_before_now() -> None:
    assert last_night(TWO_AM, "Europe/Amsterdam", 2) == TWO_AM
    assert last_night(TWO_AM - timedelta(seconds=1), "Europe/Amsterdam", 2) == TWO_AM - timedelta(
        days=1
    )
    # 30 March 2026: Amsterdam on summer time, 02:00 local is 00:00 UTC.
    assert last_night(datetime(2026, 3, 30, 6, 0, tzinfo=UTC), "Europe/Amsterdam", 2) == datetime(
        2026, 3, 30, 0, 0, tzinfo=UTC
    )
    assert last_night(TWO_AM, "No/Such_Zone", 1) == TWO_AM


async def test_a_missed_hour_runs_at_the_first_tick_after_the_same_night_once(
    client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration = await add_integration(
        sessionmaker, client_id, nightly=True, activated_at=CONNECTED
    )
    scheduler = NightlyScheduler(sessionmaker)
    api_back = TWO_AM + timedelta(hours=5, minutes=17)  # down from 01:30 to 07:17 local

    # Runs are counted per integration: the database is shared with other test files,
    # whose integrations the scheduler may reach at the same moments.
    await scheduler.tick(api_back)
    assert await nightly_runs(sessionmaker, integration) == [api_back]
    await scheduler.tick(api_back + timedelta(minutes=1))
    assert await nightly_runs(sessionmaker, integration) == [api_back]
    await finish_runs(sessionmaker, integration)
    await scheduler.tick(api_back + timedelta(hours=3))  # still that night's
    assert await nightly_runs(sessionmaker, integration) == [api_back]
    await scheduler.tick(TWO_AM + timedelta(days=1))  # the next night
    assert await nightly_runs(sessionmaker, integration) == [
        api_back,
        TWO_AM + timedelta(days=1),
    ]


async def test_no_catch_up_for_a_night_long_past_or_before_the_connection(
    client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration = await add_integration(
        sessionmaker, client_id, nightly=True, activated_at=TWO_AM + timedelta(hours=3)
    )
    scheduler = NightlyScheduler(sessionmaker)

    await scheduler.tick(TWO_AM + timedelta(hours=4))  # connected after 02:00
    assert await nightly_runs(sessionmaker, integration) == []
    await scheduler.tick(TWO_AM + timedelta(days=1, hours=12))  # 14:00: too late
    assert await nightly_runs(sessionmaker, integration) == []


async def test_a_night_held_by_a_manual_run_is_caught_up_when_it_ends(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration = await add_integration(
        sessionmaker, client_id, nightly=True, activated_at=CONNECTED
    )
    partner.post("/v1/invoices", json=invoice(client_id, number="HELD-1"))
    manual = partner.post("/v1/sync-runs", json={"integration_id": str(integration)})
    assert manual.status_code == 202, manual.text
    scheduler = NightlyScheduler(sessionmaker)

    await scheduler.tick(TWO_AM)  # the manual run holds the integration
    assert await nightly_runs(sessionmaker, integration) == []
    await finish_runs(sessionmaker, integration)
    await scheduler.tick(TWO_AM + timedelta(minutes=1))
    assert await nightly_runs(sessionmaker, integration) == [TWO_AM + timedelta(minutes=1)]


async def test_patch_changes_the_nightly_hour_the_scheduler_follows(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration = await add_integration(sessionmaker, client_id, activated_at=CONNECTED)
    response = partner.patch(
        f"/v1/integrations/{integration}", json={"nightly_sync": True, "nightly_hour": 4}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["nightly_sync"], response.json()["nightly_hour"]) == (True, 4)
    scheduler = NightlyScheduler(sessionmaker)

    await scheduler.tick(TWO_AM + timedelta(minutes=5))  # 02:05: not its hour
    assert await nightly_runs(sessionmaker, integration) == []
    await scheduler.tick(TWO_AM + timedelta(hours=2))
    assert await nightly_runs(sessionmaker, integration) == [TWO_AM + timedelta(hours=2)]


def test_patch_refuses_a_bad_hour_and_another_book(partner: httpx.Client, client_id: str) -> None:
    created = partner.post(
        f"/v1/clients/{client_id}/integrations",
        json={"system": "exact", "settings": EXACT_SETTINGS},
    ).json()

    hour = partner.patch(f"/v1/integrations/{created['id']}", json={"nightly_hour": 24})
    book = partner.patch(f"/v1/integrations/{created['id']}", json={"settings": {"division": 8}})
    journal = partner.patch(
        f"/v1/integrations/{created['id']}", json={"settings": {"sales_journal": "71"}}
    )

    assert hour.status_code == 422 and hour.json()["errors"][0]["field"] == "nightly_hour"
    assert book.status_code == 422 and book.json()["errors"][0]["field"] == "settings.division"
    # Not yet authorised: stored, checked when access is allowed.
    assert journal.status_code == 200, journal.text
    assert journal.json()["settings"]["sales_journal"] == "71"
    assert journal.json()["settings"]["division"] == 7
