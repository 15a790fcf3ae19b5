"""Queries behind the accounting systems' callbacks."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_shared.db.models import Integration
from invoicesync_shared.states import IntegrationStatus


async def list_active_lexware(session: AsyncSession, organization_id: str) -> Sequence[Integration]:
    """Active Lexware integrations whose grant reaches the organisation ``organization_id``
    (as verification stored it under ``settings.remote``)."""
    rows = await session.scalars(
        select(Integration).where(
            Integration.system == "lexware",
            Integration.status == IntegrationStatus.ACTIVE,
            Integration.settings["remote"]["organization_id"].astext == organization_id,
        )
    )
    return rows.all()
