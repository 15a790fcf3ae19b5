"""Key rotation: after ``invoicesync-rotate-keys`` the old key can go, and every stored
secret still decrypts with the new one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.rotate_keys import rotate
from invoicesync_devstack import postgres
from invoicesync_shared.crypto import SecretBox, generate_key
from invoicesync_shared.db.engine import create_engine, create_sessionmaker
from invoicesync_shared.db.models import Integration
from invoicesync_shared.settings import ServiceSettings
from tests.support.factories import make_client, make_integration

OwnDatabase = tuple[str, async_sessionmaker[AsyncSession]]


@pytest.fixture
async def own_database(
    postgres_admin_url: str,
    database_template: str,
) -> AsyncIterator[tuple[str, async_sessionmaker[AsyncSession]]]:
    """Rotation rewrites every row: it gets a database of its own, not the shared one."""
    name = f"invoicesync_rotate_{uuid.uuid4().hex[:8]}"
    url = await postgres.create_database(postgres_admin_url, name, template=database_template)
    engine = create_engine(SecretStr(url), application_name="tests-rotate")
    yield url, create_sessionmaker(engine)
    await engine.dispose()
    await postgres.drop_database(postgres_admin_url, name)


async def test_rotation_rewraps_credentials_so_the_old_key_can_be_dropped(
    own_database: OwnDatabase, encryption_key: str
) -> None:
    database_url, sessionmaker = own_database
    old_box = SecretBox(SecretStr(encryption_key))
    client = await make_client(sessionmaker, "Rotating BV")
    integration = await make_integration(
        sessionmaker, client, system="yuki", credentials=old_box.encrypt_json({"access_key": "k-1"})
    )
    new_key = generate_key()
    settings = ServiceSettings(
        database_url=SecretStr(database_url),
        encryption_keys=SecretStr(f"{new_key},{encryption_key}"),
    )
    assert await rotate(settings) >= 1
    async with sessionmaker() as session:
        stored = await session.scalar(
            select(Integration.credentials).where(Integration.id == integration.id)
        )
    assert stored is not None
    assert SecretBox(SecretStr(new_key)).decrypt_json(stored) == {"access_key": "k-1"}
