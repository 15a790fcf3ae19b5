"""What the runtime does not send: a kind the connector does not book, a lookup that finds
entries none of which is provably ours, and a check of an integration it does not run."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.errors import AmbiguousMatch, PermanentError, UnknownOutcome
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import Integration
from invoicesync_shared.integration_settings import SettingsModel
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

BOOKED, FAILED = "com.invoicesync.booking.assigned", "com.invoicesync.sync.failed"
FAST = RetryPolicy(attempts=4, initial=0.01, maximum=0.05)
SETTLE = timedelta(seconds=0.05)  # the fake shows a booking at once


@dataclass
class Checking(FakeConnector):
    """The fake, keeping the integrations it was asked to check."""

    checked: list[uuid.UUID] = field(default_factory=list)

    async def verify(self, integration: Integration, settings: SettingsModel) -> dict[str, Any]:
        self.checked.append(integration.id)
        return await super().verify(integration, settings)


def runtime_with(
    sessionmaker: async_sessionmaker[AsyncSession], fake: FakeConnector
) -> tuple[ConnectorRuntime, RecordingProducer]:
    producer = RecordingProducer()
    runtime = ConnectorRuntime(
        fake, sessionmaker=sessionmaker, producer=producer, retry=FAST, settle=SETTLE
    )
    return runtime, producer


async def test_a_kind_the_connector_does_not_book_is_refused_for_good_unsent(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    fake = FakeConnector(kinds=frozenset({"invoice"}))
    runtime, producer = runtime_with(sessionmaker, fake)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    purchase = snapshot(client, "K-1", kind="purchase_invoice")
    credit = snapshot(client, "K-2", kind="credit_note")
    await runtime.handle(booked_event(purchase, integration))
    await runtime.handle(booked_event(credit, integration))

    assert fake.pushes == 0 and fake.lookups == 0
    first, second = (f.data for f in producer.of_type(FAILED))
    assert (first["code"], first["retryable"], first["dead_lettered"]) == (
        "kind_not_supported",
        False,
        False,
    )
    assert first["message"] == (
        "Purchase documents are not yet supported by the exact connector (purchase_invoice "
        "not sent); retry it once the connector books them."
    )
    assert second["message"] == (
        "The exact connector does not book documents of kind credit_note; not sent."
    )
    for document in (purchase, credit):  # nothing tried: no entry
        assert await runtime.ledger.find(integration.id, document.id, 0) is None


async def test_an_ambiguous_lookup_is_neither_adopted_nor_pushed_again(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The answer was lost and the lookup found entries that may be ours: a bookkeeper
    decides. The outcome stays unresolved, so the retry looks the document up again and
    never books it a second time."""
    fake = FakeConnector()
    runtime, producer = runtime_with(sessionmaker, fake)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "AMB-1")
    event = booked_event(document, integration)
    fake.fail_next(UnknownOutcome("no answer"), after_commit=True)
    fake.lookup_errors.append(AmbiguousMatch("two entries carry AMB-1"))

    with structlog.testing.capture_logs() as logs:
        await runtime.handle(event)

    (said,) = [e for e in logs if e["event"] == "lookup found entries that may be ours"]
    assert (said["code"], said["log_level"]) == ("ambiguous_match", "warning")
    (failed,) = (f.data for f in producer.of_type(FAILED))
    assert (failed["code"], failed["retryable"], failed["dead_lettered"]) == (
        "ambiguous_match",
        True,
        False,
    )
    assert failed["message"] == "two entries carry AMB-1"
    entry = await runtime.ledger.find(integration.id, document.id, 0)
    assert entry is not None and entry.state == "attempting"
    assert entry.last_error == "ambiguous_match: two entries carry AMB-1"

    await runtime.handle(event)  # the bookkeeper checked and retries
    assert (fake.pushes, len(fake.booked)) == (1, 1)
    (booked,) = producer.of_type(BOOKED)
    assert booked.data["adopted"] is True


async def test_a_check_is_answered_for_this_connectors_integrations_only(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    fake = Checking()
    runtime, _ = runtime_with(sessionmaker, fake)
    client = await make_client(sessionmaker)
    ours = await make_integration(sessionmaker, client, settings={"unused": 1})
    theirs = await make_integration(sessionmaker, client, system="yuki")

    assert await runtime.verify(ours.id) == {"fake": True}
    assert fake.checked == [ours.id]
    (settings,) = fake.settings_seen  # the stored settings, as the system's model
    assert isinstance(settings, SettingsModel)
    for unknown in (theirs.id, uuid.uuid4()):
        with pytest.raises(PermanentError) as refused:
            await runtime.verify(unknown)
        assert (refused.value.code, refused.value.message) == (
            "not_found",
            "No such integration for this connector.",
        )
    assert fake.checked == [ours.id] and len(fake.settings_seen) == 1
