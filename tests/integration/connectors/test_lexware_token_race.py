"""A 401 right after a refresh, the race the month-long soak met: the sandbox's clock moved
ahead of ours (services follow it within half a second) while another replica refreshed.
A token the store handed over, or one replaced since, is renewed and sent again; only a
token the token endpoint gave this very call, refused while still stored, loses the grant.

Each race is driven at a fixed point by a request hook on the replica's HTTP client:
the other replica's refresh and the clock move happen just before a request goes out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.oauth import OAuthApp, TokenStore
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.integrations import IntegrationConnectionLost
from invoicesync_shared.events.results import DocumentSent, SyncDeferred, SyncFailed
from tests.integration.connectors.lexware_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    World,
    connect,
    document,
    verify,
)

Sessions = async_sessionmaker[AsyncSession]
HOURS_2 = 7200.0  # past the sandbox's hour-long access tokens


def other_replica(sandbox_url: str, sessionmaker: Sessions, box: SecretBox) -> TokenStore:
    app = OAuthApp(f"{sandbox_url}/lexware/api/oauth2/token", CLIENT_ID, CLIENT_SECRET)
    return TokenStore(sessionmaker, box, app)


async def advance(sandbox_url: str, seconds: float) -> None:
    """The sandbox's clock only: ours (the host's here) is left behind, as a service's is
    until its next poll of the sandbox's clock."""
    async with httpx.AsyncClient() as http:
        moved = await http.post(f"{sandbox_url}/_sandbox/clock/advance", json={"seconds": seconds})
        assert moved.status_code == 200, moved.text


def before_request(world: World, number: int, race: Callable[[str], Awaitable[None]]) -> None:
    """Run ``race`` (given the token about to go) just before the ``number``-th request."""
    seen = 0

    async def hook(request: httpx.Request) -> None:
        nonlocal seen
        seen += 1
        if seen == number:
            await race(request.headers["Authorization"].removeprefix("Bearer "))

    world.http.event_hooks["request"].append(hook)


async def stored_tokens(
    sessionmaker: Sessions, box: SecretBox, world: World
) -> tuple[str, datetime]:
    async with sessionmaker() as session:
        integration = await session.get(Integration, world.integration.id)
        assert integration is not None and integration.token_issued_at is not None
        access = str(box.decrypt_json(integration.credentials or b"")["access_token"])
        return access, integration.token_issued_at


async def test_a_stale_stored_token_handed_over_is_renewed_not_judged(
    sandbox_url: str, sessionmaker: Sessions, secret_box: SecretBox
) -> None:
    """The soak's failure: our call sends the token it read; another replica refreshes,
    and the sandbox's clock moves two hours before ours follows. Our 401 hands us the
    other replica's token, fresh by our clock and expired by the sandbox's: a second
    401, which is no refusal of the grant."""
    world = await connect(sandbox_url, sessionmaker, secret_box)
    await verify(world, sessionmaker)
    other = other_replica(sandbox_url, sessionmaker, secret_box)

    async def race(token: str) -> None:
        await other.refresh(world.integration.id, failed_token=token)
        await advance(sandbox_url, HOURS_2)

    before_request(world, 1, race)
    try:
        await world.send(document(world.integration.client_id, "RACE-1"))
    finally:
        await world.http.aclose()

    assert world.results(IntegrationConnectionLost.TYPE) == []
    assert world.results(SyncFailed.TYPE) == world.results(SyncDeferred.TYPE) == []
    assert len(world.results(DocumentSent.TYPE)) == 1


async def test_a_refreshed_token_replaced_meanwhile_is_not_judged(
    sandbox_url: str, sessionmaker: Sessions, secret_box: SecretBox
) -> None:
    """Our own refresh's token is refused after the clock moved, but another replica has
    replaced it since: the 401 says nothing about the stored grant; the stored token
    goes."""
    world = await connect(sandbox_url, sessionmaker, secret_box)
    await verify(world, sessionmaker)
    other = other_replica(sandbox_url, sessionmaker, secret_box)

    async def expire(token: str) -> None:
        await advance(sandbox_url, HOURS_2)

    async def race(token: str) -> None:
        await advance(sandbox_url, HOURS_2)
        await other.refresh(world.integration.id, failed_token=token)

    before_request(world, 1, expire)  # the first token is refused: we refresh
    before_request(world, 2, race)  # and our new one is refused, after it was replaced
    try:
        await world.send(document(world.integration.client_id, "RACE-2"))
    finally:
        await world.http.aclose()

    assert world.results(IntegrationConnectionLost.TYPE) == []
    assert world.results(SyncFailed.TYPE) == world.results(SyncDeferred.TYPE) == []
    assert len(world.results(DocumentSent.TYPE)) == 1


async def test_a_refreshed_token_expired_on_its_way_is_renewed_not_judged(
    sandbox_url: str, sessionmaker: Sessions, secret_box: SecretBox
) -> None:
    """The soak's lapse on day 12: the token endpoint's answer to this very call, still
    stored, is refused because the sandbox's calendar moved between the refresh and the
    send. A token expired on its way says nothing about the grant: renewed, and the
    document goes."""
    world = await connect(sandbox_url, sessionmaker, secret_box)
    await verify(world, sessionmaker)

    async def expire(token: str) -> None:
        await advance(sandbox_url, HOURS_2)

    before_request(world, 1, expire)  # the stored token is refused: we refresh
    before_request(world, 2, expire)  # and the calendar moves before our new one arrives
    try:
        await world.send(document(world.integration.client_id, "RACE-3"))
    finally:
        await world.http.aclose()

    assert world.results(IntegrationConnectionLost.TYPE) == []
    assert world.results(SyncFailed.TYPE) == world.results(SyncDeferred.TYPE) == []
    assert len(world.results(DocumentSent.TYPE)) == 1


async def test_a_refreshed_token_refused_while_stored_loses_the_grant(
    sandbox_url: str, sessionmaker: Sessions, secret_box: SecretBox
) -> None:
    """The user disconnects the app between our refresh and its token's first use: the
    token is refused, and so is the refresh after it. The grant is refused, reported
    once, naming the tokens that were refused."""
    world = await connect(sandbox_url, sessionmaker, secret_box)
    await verify(world, sessionmaker)

    async def expire(token: str) -> None:
        await advance(sandbox_url, HOURS_2)

    async def disconnect(token: str) -> None:
        async with httpx.AsyncClient() as http:
            revoked = await http.post(
                f"{sandbox_url}/_sandbox/lexware/tokens/revoke",
                json={"organization_id": world.organization_id},
            )
            assert revoked.status_code == 200, revoked.text

    before_request(world, 1, expire)
    before_request(world, 2, disconnect)
    _, issued = await stored_tokens(sessionmaker, secret_box, world)
    try:
        await world.send(document(world.integration.client_id, "RACE-4"))
    finally:
        await world.http.aclose()

    [lost] = world.results(IntegrationConnectionLost.TYPE)
    _, refused = await stored_tokens(sessionmaker, secret_box, world)
    assert refused > issued  # our refresh's tokens, not those we started with
    assert datetime.fromisoformat(str(lost["credentials_issued_at"])) == refused
    assert world.results(DocumentSent.TYPE) == []
