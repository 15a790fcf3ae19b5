"""Queries over the partner's notifications."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.db.models import Notification
from invoicesync_api.db.owned import get_owned
from invoicesync_shared import clock


async def list_notifications(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    client_id: uuid.UUID | None = None,
    unread: bool | None = None,
    limit: int = 200,
) -> Sequence[Notification]:
    """The partner's newest ``limit`` notifications, optionally of one client or by read state."""
    query = select(Notification).where(Notification.partner_id == partner_id)
    if unread is not None:
        query = query.where(
            Notification.read_at.is_(None) if unread else Notification.read_at.is_not(None)
        )
    if client_id:
        query = query.where(Notification.client_id == client_id)
    rows = await session.scalars(query.order_by(Notification.created_at.desc()).limit(limit))
    return rows.all()


async def get_notification(
    session: AsyncSession, notification_id: uuid.UUID, partner_id: uuid.UUID
) -> Notification:
    return await get_owned(session, Notification, notification_id, partner_id, "notification")


def mark_read(notification: Notification) -> None:
    """Read now by the shared clock; a second mark keeps the first time."""
    notification.read_at = notification.read_at or clock.now()
