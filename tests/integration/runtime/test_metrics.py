"""The runtime's counters, what the operations dashboard and its alerts read: each push
ends counted once under its system and outcome, a failure under its code, a retry as a
retry, and every call to the system timed."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.errors import PermanentError, TransientError
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

FAST = RetryPolicy(attempts=4, initial=0.01, maximum=0.05)

# (metric sample, labels) -> how much it must grow.
Expected = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _samples(expected: Expected) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (name, labels): REGISTRY.get_sample_value(name, dict(labels)) or 0.0
        for name, labels in expected
    }


async def test_each_outcome_is_counted_once_under_its_system_and_outcome(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """One document booked after one retry, one refused (period locked): two outcomes,
    one failure by its code, one retry, three timed calls."""
    fake, producer = FakeConnector(), RecordingProducer()
    runtime = ConnectorRuntime(
        fake,
        sessionmaker=sessionmaker,
        producer=producer,
        retry=FAST,
        settle=timedelta(seconds=0.05),
    )
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    exact = (("system", "exact"),)
    expected: Expected = {
        ("invoicesync_sync_outcomes_total", (*exact, ("outcome", "booked"))): 1,
        ("invoicesync_sync_outcomes_total", (*exact, ("outcome", "failed"))): 1,
        ("invoicesync_sync_failures_total", (("code", "period_locked"), *exact)): 1,
        ("invoicesync_sync_retries_total", exact): 1,
        ("invoicesync_push_duration_seconds_count", exact): 3,
    }
    before = _samples(expected)
    time_before = REGISTRY.get_sample_value("invoicesync_push_duration_seconds_sum", dict(exact))

    fake.fail_next(TransientError("Exact answered 503"))
    await runtime.handle(booked_event(snapshot(client, "COUNT-1"), integration))
    fake.fail_next(PermanentError("period_locked", "The period is locked."))
    await runtime.handle(booked_event(snapshot(client, "COUNT-2"), integration))

    after = _samples(expected)
    assert {key: after[key] - before[key] for key in expected} == expected
    timed = REGISTRY.get_sample_value("invoicesync_push_duration_seconds_sum", dict(exact))
    assert timed is not None and 0 <= timed - (time_before or 0.0) < 10  # seconds, not clocks
