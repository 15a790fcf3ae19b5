"""Nightly reconciliation: an integration with ``nightly_reconciliation_days`` reconciles
the days before the night (the client's local dates) at its hour, once per night; PATCH
switches it on and off. Time is passed to the scheduler's tick."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Reconciliation
from invoicesync_api.workers.scheduler import NightlyScheduler
from tests.integration.api.conftest import add_integration

CONNECTED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TWO_AM = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 02:00 in Europe/Amsterdam


async def nightly(
    sessionmaker: async_sessionmaker[AsyncSession], integration_id: uuid.UUID
) -> list[tuple[date, date, datetime]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Reconciliation.period_from, Reconciliation.period_to, Reconciliation.started_at)
            .where(
                Reconciliation.integration_id == integration_id,
                Reconciliation.trigger == "nightly",
            )
            .order_by(Reconciliation.started_at)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def finish(sessionmaker: async_sessionmaker[AsyncSession], integration_id: uuid.UUID) -> None:
    async with sessionmaker.begin() as session:
        for row in await session.scalars(
            select(Reconciliation).where(Reconciliation.integration_id == integration_id)
        ):
            row.status = "finished"


async def test_the_days_before_the_night_are_reconciled_once_a_night_while_on(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration = await add_integration(sessionmaker, client_id, activated_at=CONNECTED)
    scheduler = NightlyScheduler(sessionmaker)
    assert await nightly(sessionmaker, integration) == []
    switched = partner.patch(
        f"/v1/integrations/{integration}", json={"nightly_reconciliation_days": 7}
    )
    assert switched.status_code == 200, switched.text
    assert switched.json()["nightly_reconciliation_days"] == 7

    await scheduler.tick(TWO_AM - timedelta(minutes=1))  # before its hour: nothing
    assert await nightly(sessionmaker, integration) == []
    await scheduler.tick(TWO_AM + timedelta(minutes=3))
    await scheduler.tick(TWO_AM + timedelta(minutes=4))
    assert await nightly(sessionmaker, integration) == [
        (date(2026, 11, 17), date(2026, 11, 23), TWO_AM + timedelta(minutes=3))
    ]
    await finish(sessionmaker, integration)
    await scheduler.tick(TWO_AM + timedelta(hours=3))  # the same night, once
    assert len(await nightly(sessionmaker, integration)) == 1
    assert (
        partner.patch(
            f"/v1/integrations/{integration}", json={"nightly_reconciliation_days": 0}
        ).json()["nightly_reconciliation_days"]
        == 0
    )
    await scheduler.tick(TWO_AM + timedelta(days=1))
    assert len(await nightly(sessionmaker, integration)) == 1


async def test_too_many_days_are_refused_naming_the_field(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    integration = await add_integration(sessionmaker, client_id)
    refused = partner.patch(
        f"/v1/integrations/{integration}", json={"nightly_reconciliation_days": 93}
    )
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["nightly_reconciliation_days"]
