"""A purchase document's file beyond what the connector declares it takes (size, content
type) is refused by the runtime before any call to the system: a push fails for good with
``file_too_large`` / ``unsupported_file_type`` naming the limit and the system, and a
preview answers that problem at ``file``. A file at the limit goes through."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.file_limits import MIB, FileLimits
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import LedgerEntry
from invoicesync_shared.events.documents import (
    PURCHASE_KINDS,
    SALES_KINDS,
    DocumentFileRef,
    DocumentSnapshot,
)
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.states import FailureCode, LedgerState
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

FAILED, BOOKED = "com.invoicesync.sync.failed", "com.invoicesync.booking.assigned"
LIMITS = FileLimits("Acme Books", 2 * MIB, frozenset({"application/pdf"}))
# (content type, size) → the failure code, or None: taken.
CASES = [
    ("application/pdf", 2 * MIB + 1, FailureCode.FILE_TOO_LARGE),
    ("image/png", 100, FailureCode.UNSUPPORTED_FILE_TYPE),
]


class Setup:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self.fake = FakeConnector(kinds=SALES_KINDS | PURCHASE_KINDS, file_limits=LIMITS)
        self.producer = RecordingProducer()
        self.runtime = ConnectorRuntime(
            self.fake, sessionmaker=sessionmaker, producer=self.producer
        )

    async def purchase(self, content_type: str, size: int) -> tuple[DocumentSnapshot, Envelope]:
        client = await make_client(self.sessionmaker)
        self.integration = await make_integration(self.sessionmaker, client)
        ref = DocumentFileRef(
            id=uuid.uuid4(),
            filename="bill.scan",
            content_type=content_type,
            size=size,
            sha256="0" * 64,
        )
        document = snapshot(client, "INK-1", kind="purchase_invoice").model_copy(
            update={"file": ref}
        )
        return document, booked_event(document, self.integration)


@pytest.mark.parametrize(("content_type", "size", "code"), CASES)
async def test_a_file_beyond_the_limits_is_refused_before_the_push(
    sessionmaker: async_sessionmaker[AsyncSession],
    content_type: str,
    size: int,
    code: FailureCode,
) -> None:
    setup = Setup(sessionmaker)
    document, envelope = await setup.purchase(content_type, size)
    await setup.runtime.handle(envelope)

    assert (setup.fake.pushes, setup.fake.lookups) == (0, 0)  # nothing asked of the system
    [failed] = setup.producer.of_type(FAILED)
    assert failed.data["code"] == code and failed.data["retryable"] is False
    message = failed.data["message"]
    assert "Acme Books" in message and "'bill.scan'" in message
    assert ("2 MB" if code == FailureCode.FILE_TOO_LARGE else "PDF files only") in message
    async with sessionmaker() as session:
        state = await session.scalar(select(LedgerEntry.state).filter_by(document_id=document.id))
    assert state == LedgerState.FAILED  # not in doubt: nothing was sent


@pytest.mark.parametrize(("content_type", "size", "code"), CASES)
async def test_a_file_beyond_the_limits_is_the_previews_problem(
    sessionmaker: async_sessionmaker[AsyncSession],
    content_type: str,
    size: int,
    code: FailureCode,
) -> None:
    setup = Setup(sessionmaker)
    document, _ = await setup.purchase(content_type, size)
    previewed: list[DocumentSnapshot] = []

    async def preview(ctx: object, document: DocumentSnapshot) -> object:
        previewed.append(document)  # the connector's own preview: its read-only calls
        raise AssertionError("the connector was asked")

    setup.fake.preview = preview  # type: ignore[attr-defined]
    answer = await setup.runtime.preview(setup.integration.id, document)

    assert previewed == [] and (setup.fake.pushes, setup.fake.lookups) == (0, 0)
    assert answer.payload is None
    assert [(p.code, p.field) for p in answer.problems] == [(code, "file")]
    assert "Acme Books" in answer.problems[0].message


async def test_a_file_at_the_limits_is_pushed(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    setup = Setup(sessionmaker)
    _, envelope = await setup.purchase("application/pdf", 2 * MIB)
    await setup.runtime.handle(envelope)
    assert setup.fake.pushes == 1
    assert setup.producer.of_type(FAILED) == [] and len(setup.producer.of_type(BOOKED)) == 1
