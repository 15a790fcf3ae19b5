"""Token age reckoned by a clock ahead of Exact's: the stored access token looks expired
to us, and Exact refuses the refresh as too early ("access_token not expired"). The
stored token is then used as Exact says it is still valid, instead of holding the
document until Exact's 570-second floor has passed. But when Exact's API refused that very
token, a too-early refresh says the refusal was no expiry: the grant is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.integrations import IntegrationConnectionLost
from invoicesync_shared.events.results import BookingAssigned, SyncDeferred, SyncFailed
from tests.integration.connectors.exact_support import Sessions, World, connect


async def test_a_refresh_refused_as_too_early_uses_the_stored_token(
    sandbox_url: str, sessionmaker: Sessions, secret_box: SecretBox
) -> None:
    world: World = await connect(sandbox_url, sessionmaker, secret_box)
    try:
        # Issued a moment ago by Exact's clock; expired a minute ago by ours.
        async with sessionmaker.begin() as session:
            await session.execute(
                update(Integration)
                .where(Integration.id == world.integration.id)
                .values(token_expires_at=datetime.now(UTC) - timedelta(minutes=1))
            )
        await world.send(world.document("EARLY-1"))
    finally:
        await world.close(sessionmaker)

    assert len(world.results(BookingAssigned.TYPE)) == 1
    assert world.results(SyncDeferred.TYPE) == world.results(SyncFailed.TYPE) == []
    assert world.refreshes.made == 0  # the grant was not rotated


async def test_a_token_refused_that_exact_still_holds_valid_is_the_grant_refused(
    sandbox_url: str, sessionmaker: Sessions, secret_box: SecretBox
) -> None:
    """Exact's API answers 401 to the stored token, and its token endpoint refuses the
    refresh because that token is not expired. No clock explains that 401: it is reported
    as the authorisation refused (once), not retried every half minute against Exact's
    error block. (The request hook stands in for whatever Exact refuses it for: the
    emulator refuses no current token on its own.)"""
    world: World = await connect(sandbox_url, sessionmaker, secret_box)

    async def refused_by_the_api(request: httpx.Request) -> None:
        if "/api/v1/" in request.url.path:
            request.headers["Authorization"] = "Bearer refused-by-exact"

    world.one.http.event_hooks["request"].append(refused_by_the_api)
    try:
        await world.send(world.document("REFUSED-VALID-1"))
    finally:
        await world.close(sessionmaker)

    [lost] = world.results(IntegrationConnectionLost.TYPE)
    assert (lost["status"], lost["reason"]) == ("needs_reauthorization", "authorization_refused")
    async with sessionmaker() as session:
        stored = await session.get(Integration, world.integration.id)
        assert stored is not None and stored.token_issued_at is not None
    assert datetime.fromisoformat(str(lost["credentials_issued_at"])) == stored.token_issued_at
    assert world.results(SyncFailed.TYPE) == world.results(BookingAssigned.TYPE) == []
    assert world.refreshes.made == 0  # the grant was not rotated
