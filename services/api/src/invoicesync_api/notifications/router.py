"""/v1/notifications: the bell, with unread state."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from invoicesync_api.clients.router import ClientFilterDep
from invoicesync_api.db.models import Notification
from invoicesync_api.deps import CallerDep, LanguageDep, NeedsRead, NeedsWrite, SessionDep
from invoicesync_api.examples import sync as examples
from invoicesync_api.examples.media import response_examples
from invoicesync_api.i18n.notifications import localised
from invoicesync_api.notifications import repository

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])


class NotificationOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.NOTIFICATION]})

    id: uuid.UUID
    kind: str
    client_id: uuid.UUID | None
    sync_run_id: uuid.UUID | None
    reconciliation_id: uuid.UUID | None = None
    title: str
    body: str
    counts: dict[str, Any]
    errors: list[dict[str, Any]]
    read_at: datetime | None
    created_at: datetime


def notification_out(notification: Notification, language: str) -> NotificationOut:
    """The notification with its texts in ``language`` (kind and codes as stored)."""
    title, body, errors = localised(
        language,
        notification.kind,
        notification.title,
        notification.body,
        notification.params,
        notification.errors,
    )
    out = NotificationOut.model_validate(notification, from_attributes=True)
    return out.model_copy(update={"title": title, "body": body, "errors": errors})


@router.get("", dependencies=[NeedsRead], response_model=list[NotificationOut])
async def list_notifications(
    session: SessionDep,
    caller: CallerDep,
    client_id: ClientFilterDep,
    language: LanguageDep,
    unread: bool | None = None,
) -> list[NotificationOut]:
    rows = await repository.list_notifications(
        session, caller.partner_id, client_id=client_id, unread=unread
    )
    return [notification_out(n, language) for n in rows]


@router.post(
    "/{notification_id}/read",
    dependencies=[NeedsWrite],
    response_model=NotificationOut,
    responses={200: response_examples(examples.NOTIFICATION_MARKED)},
)
async def mark_read(
    notification_id: uuid.UUID, session: SessionDep, caller: CallerDep, language: LanguageDep
) -> NotificationOut:
    notification = await repository.get_notification(session, notification_id, caller.partner_id)
    repository.mark_read(notification)
    return notification_out(notification, language)
