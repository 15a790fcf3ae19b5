"""The error brake across replicas: whatever the number of connector processes (and after
a restart), Exact sees at most the allowance of errors per endpoint and division an hour,
so it never blocks the app; successful calls cost none of it."""

from __future__ import annotations

import asyncio

from invoicesync_shared.connectors.error_brake import ErrorBudgetSpent
from invoicesync_shared.connectors.errors import SyncError
from invoicesync_shared.crypto import SecretBox
from tests.integration.connectors.exact_support import Replica, Sessions, World, replica

MISSING = "crm/Accounts(guid'00000000-0000-0000-0000-000000000000')"


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

    sent = sum(r.client.calls for r in replicas) + restarted.client.calls
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

    assert world.one.client.calls == 12 + 8
    assert outcomes.count(ErrorBudgetSpent) == 1
