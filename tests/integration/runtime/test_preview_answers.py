"""What ``ConnectorRuntime.preview`` answers, whole: the integration it may preview for, the
problems found before the connector is asked (kind, file, no preview at all) and those the
connector's lookups meet, each as the API shows it (code, field, message); and that the
connector is asked with the integration's context, for the document given."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.errors import (
    AuthorizationLost,
    PermanentError,
    RateLimited,
    TransientError,
    UnknownOutcome,
)
from invoicesync_shared.connectors.preview import PreviewAnswer, PreviewProblem
from invoicesync_shared.connectors.protocol import PushContext
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.documents import DocumentSnapshot
from invoicesync_shared.integration_settings import SettingsModel
from tests.support.factories import make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

CLEAN = PreviewAnswer({"number": "PA-1"}, None, [])


class Previewing(FakeConnector):
    """The fake with a preview: it answers ``CLEAN`` after raising ``errors`` in turn, and
    keeps what it was asked with and when."""

    def __init__(self, errors: list[Exception] | None = None) -> None:
        super().__init__()
        self.errors = list(errors or [])
        self.asked: list[tuple[PushContext[SettingsModel], DocumentSnapshot]] = []
        self.asked_at: list[float] = []

    async def preview(
        self, ctx: PushContext[SettingsModel], document: DocumentSnapshot
    ) -> PreviewAnswer:
        self.asked.append((ctx, document))
        self.asked_at.append(time.monotonic())
        if self.errors:
            raise self.errors.pop(0)
        return CLEAN


async def _integration(
    sessionmaker: async_sessionmaker[AsyncSession], system: str = "exact"
) -> tuple[Integration, DocumentSnapshot]:
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client, system=system)
    return integration, snapshot(client, "PA-1")


def _runtime(
    sessionmaker: async_sessionmaker[AsyncSession], connector: FakeConnector
) -> ConnectorRuntime[SettingsModel]:
    return ConnectorRuntime(connector, sessionmaker=sessionmaker, producer=RecordingProducer())


async def test_the_connector_is_asked_once_with_the_integrations_context(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    fake = Previewing()
    integration, document = await _integration(sessionmaker)
    answer = await _runtime(sessionmaker, fake).preview(integration.id, document)
    assert answer == CLEAN
    ((ctx, asked),) = fake.asked
    assert asked == document
    assert (ctx.integration.id, ctx.reference, ctx.is_update) == (integration.id, "PA-1", False)


@pytest.mark.parametrize("system", ["exact", "lexware"])
async def test_an_integration_it_cannot_preview_for_is_not_found(
    sessionmaker: async_sessionmaker[AsyncSession], system: str
) -> None:
    """No such integration, or one of another system: the API answers 404."""
    fake = Previewing()
    integration, document = await _integration(sessionmaker, system)
    unknown = uuid.uuid4() if system == "exact" else integration.id
    with pytest.raises(PermanentError) as raised:
        await _runtime(sessionmaker, fake).preview(unknown, document)
    said = (raised.value.code, raised.value.message)
    assert said == ("not_found", "No such integration for this connector.")
    assert fake.asked == []


async def test_a_kind_the_connector_does_not_book_is_the_previews_problem(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    fake = Previewing()
    integration, sales = await _integration(sessionmaker)
    document = sales.model_copy(update={"kind": "purchase_invoice"})
    answer = await _runtime(sessionmaker, fake).preview(integration.id, document)
    message = (
        "Purchase documents are not yet supported by the exact connector (purchase_invoice "
        "not sent); retry it once the connector books them."
    )
    assert answer == PreviewAnswer(
        None, None, [PreviewProblem("kind_not_supported", "kind", message)]
    )
    assert fake.asked == []


async def test_a_connector_without_a_preview_says_so(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    integration, document = await _integration(sessionmaker)
    answer = await _runtime(sessionmaker, FakeConnector()).preview(integration.id, document)
    problem = PreviewProblem("preview_unavailable", None, "The exact connector cannot preview.")
    assert answer == PreviewAnswer(None, None, [problem])


@pytest.mark.parametrize(
    "refusal",
    [
        PermanentError("vat_code_missing", "No VAT code for 21 % in Exact."),
        AuthorizationLost("Exact refused the grant; connect it again."),
    ],
)
async def test_a_refused_lookup_is_the_previews_problem_asked_once(
    sessionmaker: async_sessionmaker[AsyncSession], refusal: PermanentError
) -> None:
    """Retrying cannot help a refusal: one question, its code and message as the problem."""
    fake = Previewing([refusal, refusal])
    integration, document = await _integration(sessionmaker)
    answer = await _runtime(sessionmaker, fake).preview(integration.id, document)
    problem = PreviewProblem(refusal.code, None, refusal.message)
    assert answer == PreviewAnswer(None, None, [problem])
    assert len(fake.asked) == 1


@pytest.mark.parametrize(
    "trouble", [TransientError("Exact answered 503"), UnknownOutcome("Exact timed out")]
)
async def test_a_system_that_cannot_answer_now_is_the_previews_problem(
    sessionmaker: async_sessionmaker[AsyncSession], trouble: Exception
) -> None:
    fake = Previewing([trouble])
    integration, document = await _integration(sessionmaker)
    answer = await _runtime(sessionmaker, fake).preview(integration.id, document)
    message = f"exact could not be asked now ({trouble}); preview again in a while."
    problem = PreviewProblem("preview_unavailable", None, message)
    assert answer == PreviewAnswer(None, None, [problem])
    assert len(fake.asked) == 1


async def test_a_short_rate_limit_is_waited_for_as_long_as_it_asks(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The second question comes no sooner than the Retry-After said."""
    fake = Previewing([RateLimited("busy", retry_after=0.3)])
    integration, document = await _integration(sessionmaker)
    answer = await _runtime(sessionmaker, fake).preview(integration.id, document)
    first, second = fake.asked_at
    assert answer == CLEAN and second - first >= 0.3
