"""Token age reckoned by a clock ahead of Exact's: the stored access token looks expired
to us, and Exact refuses the refresh as too early ("access_token not expired"). The
stored token is then used as Exact says it is still valid, instead of holding the
document until Exact's 570-second floor has passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.models import Integration
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
