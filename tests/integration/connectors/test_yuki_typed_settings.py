"""The Yuki connector, through the runtime, reads its settings as ``YukiSettings``, the
access key the API keeps encrypted with the credentials included: not a dict."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.errors import PermanentError
from invoicesync_shared.crypto import SecretBox, generate_key
from invoicesync_shared.db.models import Integration
from tests.support.yuki import Yuki


async def _store(
    sessionmaker: async_sessionmaker[AsyncSession],
    yuki: Yuki,
    *,
    credentials: bytes,
    settings: dict[str, Any] | None = None,
) -> None:
    values: dict[str, Any] = {"credentials": credentials}
    if settings is not None:
        values["settings"] = settings
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Integration).where(Integration.id == yuki.integration.id).values(**values)
        )


async def test_the_connector_reads_its_key_and_administration_typed(
    yuki: Yuki, sessionmaker: async_sessionmaker[AsyncSession], secret_box: SecretBox
) -> None:
    # Keys the settings do not know (a newer API's) are left out, in settings and
    # credentials alike (the connector trims and lower-cases the administration).
    await _store(
        sessionmaker,
        yuki,
        credentials=secret_box.encrypt_json({"access_key": yuki.access_key, "later": 1}),
        settings={"administration_id": f" {yuki.administration_id.upper()} ", "later": True},
    )
    facts = await yuki.runtime.verify(yuki.integration.id)
    assert facts["administration_id"] == yuki.administration_id


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"access_key": None},
        {"access_key": ["not", "a", "key"]},
    ],
)
async def test_a_stored_key_the_settings_cannot_read_is_refused_unsent(
    yuki: Yuki,
    sessionmaker: async_sessionmaker[AsyncSession],
    secret_box: SecretBox,
    credentials: dict[str, Any],
) -> None:
    await _store(sessionmaker, yuki, credentials=secret_box.encrypt_json(credentials))
    with pytest.raises(PermanentError) as refused:
        await yuki.runtime.verify(yuki.integration.id)
    assert (refused.value.code, refused.value.message) == (
        "invalid_access_key",
        "The stored Yuki access key cannot be read; store it again.",
    )


async def test_a_key_encrypted_with_another_key_is_refused_unsent(
    yuki: Yuki, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    other = SecretBox(SecretStr(generate_key())).encrypt_json({"access_key": yuki.access_key})
    await _store(sessionmaker, yuki, credentials=other)
    with pytest.raises(PermanentError) as refused:
        await yuki.runtime.verify(yuki.integration.id)
    assert refused.value.code == "invalid_access_key"
