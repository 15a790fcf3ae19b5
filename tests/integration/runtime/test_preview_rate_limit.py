"""A preview that meets a rate limit with a short wait (a busy organisation's budget,
spent for a moment) waits it out and asks once more; a long wait, or a limit met twice,
is the ``preview_unavailable`` problem at once: the API's preview timeout would pass."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.errors import RateLimited
from invoicesync_shared.connectors.preview import PREVIEW_LONGEST_WAIT, PreviewAnswer
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.events.documents import DocumentSnapshot
from tests.support.factories import make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

CLEAN = PreviewAnswer({"number": "PV-1"}, None, [])


async def previewed(
    sessionmaker: async_sessionmaker[AsyncSession], refusals: list[RateLimited]
) -> tuple[PreviewAnswer, int]:
    """The runtime's answer when the connector's lookups meet ``refusals`` first; and how
    often the connector was asked."""
    fake = FakeConnector()
    runtime = ConnectorRuntime(fake, sessionmaker=sessionmaker, producer=RecordingProducer())
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    asked: list[DocumentSnapshot] = []

    async def preview(ctx: object, document: DocumentSnapshot) -> PreviewAnswer:
        asked.append(document)
        if refusals:
            raise refusals.pop(0)
        return CLEAN

    fake.preview = preview  # type: ignore[attr-defined]
    answer = await runtime.preview(integration.id, snapshot(client, "PV-1"))
    return answer, len(asked)


@pytest.mark.parametrize("retry_after", [0.05, None])
async def test_a_short_rate_limit_is_waited_out_and_the_preview_answers(
    sessionmaker: async_sessionmaker[AsyncSession], retry_after: float | None
) -> None:
    refusal = RateLimited("Lexware rate limit reached", retry_after=retry_after)
    answer, asked = await previewed(sessionmaker, [refusal])
    assert (answer, asked) == (CLEAN, 2)


async def test_a_long_rate_limit_is_the_previews_problem_at_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    refusal = RateLimited("Exact minute limit", retry_after=PREVIEW_LONGEST_WAIT + 1)
    answer, asked = await previewed(sessionmaker, [refusal])
    assert asked == 1
    assert [p.code for p in answer.problems] == ["preview_unavailable"]
    assert "Exact minute limit" in answer.problems[0].message


async def test_a_rate_limit_met_twice_is_the_previews_problem(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    refusals = [RateLimited("busy", retry_after=0.01), RateLimited("busy", retry_after=0.01)]
    answer, asked = await previewed(sessionmaker, refusals)
    assert asked == 2
    assert [p.code for p in answer.problems] == ["preview_unavailable"]
