"""The error brake across replicas: whatever the number of connector processes (and after
a restart), Exact sees at most the allowance of errors per endpoint and division an hour,
so it never blocks the app; successful calls cost none of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from connector_exact.settings import ExactConnectorSettings
from invoicesync_shared.connectors.error_brake import ErrorBudgetSpent
from invoicesync_shared.connectors.errors import SyncError
from invoicesync_shared.crypto import SecretBox
from tests.integration.connectors.exact_support import (
    Replica,
    Sessions,
    World,
    control,
    replica,
)

MISSING = "crm/Accounts(guid'00000000-0000-0000-0000-000000000000')"


@pytest.fixture(autouse=True)
async def forget_the_errors(world: World, sessionmaker: Sessions) -> AsyncIterator[None]:
    """The brake counts per division code, and a sandbox of a test's own numbers its
    divisions as the shared one does: the errors spent here are forgotten afterwards, so
    a later test's division of the same code starts with the whole allowance."""
    yield
    async with sessionmaker.begin() as session:
        await session.execute(
            text("DELETE FROM connector_call_errors WHERE system = 'exact' AND scope = :scope"),
            {"scope": str(world.code)},
        )


async def _fail_repeatedly(world: World, one: Replica, times: int) -> list[type[Exception]]:
    outcomes: list[type[Exception]] = []
    for _ in range(times):
        try:
            await one.client.get(world.integration.id, world.code, MISSING)
        except SyncError as exc:
            outcomes.append(type(exc))
    return outcomes


async def test_four_replicas_and_a_restart_send_at_most_the_allowance_of_errors(
    world: World, sessionmaker: Sessions, secret_box: SecretBox
) -> None:
    replicas = [world.one] + [
        replica(world.sandbox_url, sessionmaker, secret_box) for _ in range(3)
    ]
    world.others = replicas[1:]

    outcomes = await asyncio.gather(*(_fail_repeatedly(world, r, 5) for r in replicas))
    restarted = replica(world.sandbox_url, sessionmaker, secret_box)
    world.others.append(restarted)
    after_restart = await _fail_repeatedly(world, restarted, 3)

    sent = sum(r.sent.calls for r in replicas) + restarted.sent.calls
    assert sent == 8, outcomes
    every = [o for one in outcomes for o in one] + after_restart
    held = [o for o in every if o is ErrorBudgetSpent]
    assert len(held) == 4 * 5 + 3 - 8


async def test_successful_calls_cost_nothing_of_the_allowance(world: World) -> None:
    for _ in range(12):
        await world.one.client.results(
            world.integration.id, world.code, "crm/Accounts", {"$select": "ID", "$top": "1"}
        )
    outcomes = await _fail_repeatedly(world, world.one, 9)

    assert world.one.sent.calls == 12 + 8
    assert outcomes.count(ErrorBudgetSpent) == 1


async def test_with_the_connectors_own_allowance_exact_never_blocks_the_endpoint(
    world: World, sessionmaker: Sessions, secret_box: SecretBox
) -> None:
    """With the allowance the connector runs with, errors that go on are held back here
    before Exact (the sandbox counts as Exact does) blocks the endpoint for an hour."""
    allowance = ExactConnectorSettings.model_fields["exact_error_allowance"].default
    assert allowance <= control(world.sandbox_url, "GET", "/exact/limits")["error_threshold"]
    one = replica(world.sandbox_url, sessionmaker, secret_box, error_allowance=allowance)
    world.others = [one]

    outcomes = await _fail_repeatedly(world, one, 15)

    assert one.sent.calls == allowance
    assert outcomes.count(ErrorBudgetSpent) == 15 - allowance
    blocks = control(world.sandbox_url, "GET", "/exact/limits")["blocks"]
    assert [b for b in blocks if b["division"] == world.code] == []


async def test_errors_on_one_endpoint_leave_the_others_open(world: World) -> None:
    """Exact counts errors per endpoint (an entity's key is not part of it), and so does
    the brake: with crm/Accounts held back, sales entries are still sent."""
    await _fail_repeatedly(world, world.one, 9)
    other = "crm/Accounts(guid'11111111-1111-1111-1111-111111111111')"
    with pytest.raises(ErrorBudgetSpent):  # another account: the same endpoint
        await world.one.client.get(world.integration.id, world.code, other)
    calls = world.one.sent.calls

    missing_entry = "salesentry/SalesEntries(guid'00000000-0000-0000-0000-000000000000')"
    with pytest.raises(SyncError) as raised:
        await world.one.client.get(world.integration.id, world.code, missing_entry)

    assert not isinstance(raised.value, ErrorBudgetSpent)
    assert world.one.sent.calls == calls + 1
