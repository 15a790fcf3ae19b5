"""The runtime reads an integration's stored settings as its connector's model and hands
that over: what a connector sees is typed, whatever else the JSON holds."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.integration_settings import ExactSettings
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

BOOKED, FAILED = "com.invoicesync.booking.assigned", "com.invoicesync.sync.failed"
FAST = RetryPolicy(attempts=2, initial=0.01, maximum=0.02)
# As the API stores them: the user's settings, then what verify found under "remote".
STORED = {
    "division": 7,
    "sales_journal": "70",
    "credit_note_journal": "71",
    "start_date": "2026-01-01",
    "default_gl_account": None,
    "remote": {"division": 7, "journals": ["70", "71"]},
}


async def test_a_push_is_handed_the_systems_settings_model(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    fake, producer = FakeConnector(settings_model=ExactSettings), RecordingProducer()
    runtime = ConnectorRuntime(fake, sessionmaker=sessionmaker, producer=producer, retry=FAST)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client, settings=STORED)
    await runtime.handle(booked_event(snapshot(client, "T-1"), integration))
    assert len(producer.of_type(BOOKED)) == 1
    assert fake.settings_seen == [
        ExactSettings(
            division=7, sales_journal="70", credit_note_journal="71", start_date=date(2026, 1, 1)
        )
    ]


async def test_settings_the_api_would_not_store_fail_the_push_unsent(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """As a missing key did when connectors read dicts: an internal error, nothing pushed."""
    fake, producer = FakeConnector(settings_model=ExactSettings), RecordingProducer()
    runtime = ConnectorRuntime(fake, sessionmaker=sessionmaker, producer=producer, retry=FAST)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client, settings={"division": 7})
    await runtime.handle(booked_event(snapshot(client, "T-2"), integration))
    assert fake.pushes == 0
    assert [e.data["code"] for e in producer.of_type(FAILED)] == ["internal_error"]
