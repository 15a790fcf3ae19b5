"""``invoicesync-rotate-keys``: re-encrypt every stored secret with the first key of
INVOICESYNC_ENCRYPTION_KEYS, so old keys can then be dropped."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from invoicesync_api.webhooks.models import WebhookEndpoint
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.engine import create_engine, create_sessionmaker
from invoicesync_shared.db.models import Integration
from invoicesync_shared.settings import ServiceSettings

ENCRYPTED_COLUMNS: tuple[tuple[type[Integration] | type[WebhookEndpoint], tuple[str, ...]], ...] = (
    (Integration, ("credentials",)),
    (WebhookEndpoint, ("secret", "previous_secret")),
)


async def rotate(settings: ServiceSettings) -> int:
    """Returns how many values were re-encrypted; rows are locked while rewritten."""
    box = SecretBox(settings.encryption_keys)
    engine = create_engine(settings.database_url, application_name="invoicesync-rotate-keys")
    sessionmaker, count = create_sessionmaker(engine), 0
    try:
        for model, columns in ENCRYPTED_COLUMNS:
            async with sessionmaker.begin() as session:
                for row in (await session.scalars(select(model).with_for_update())).all():
                    for column in columns:
                        if (value := getattr(row, column)) is not None:
                            setattr(row, column, box.rotate(value))
                            count += 1
    finally:
        await engine.dispose()
    return count


def main() -> None:
    print(f"re-encrypted {asyncio.run(rotate(ServiceSettings()))} stored secrets")
