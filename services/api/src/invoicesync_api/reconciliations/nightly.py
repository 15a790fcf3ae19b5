"""Nightly reconciliations: an integration with ``nightly_reconciliation_days`` set
reconciles the days before its night (the client's local dates), at ``nightly_hour``,
once per night. Run by the nightly scheduler's tick, under its lock."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.db.models import Client
from invoicesync_api.errors.exceptions import ApiError
from invoicesync_api.reconciliations import repository, service
from invoicesync_api.reconciliations.schemas import ReconciliationIn
from invoicesync_shared.db.models import Integration

log = structlog.get_logger()


async def due(session: AsyncSession) -> list[tuple[Integration, Client]]:
    """Active integrations with nightly reconciliation on, each with its client."""
    return await repository.nightly_due(session)


async def ran_since(session: AsyncSession, integration_id: uuid.UUID, night: datetime) -> bool:
    last = await repository.last_nightly_start(session, integration_id)
    return last is not None and last >= night


async def start(
    session: AsyncSession, integration: Integration, local_night: datetime, now: datetime
) -> uuid.UUID | None:
    """The reconciliation of the ``nightly_reconciliation_days`` local dates before the
    night; None when it cannot start now (one running, the integration not active)."""
    last_day = local_night.date() - timedelta(days=1)
    first_day = last_day - timedelta(days=integration.nightly_reconciliation_days - 1)
    body = ReconciliationIn.model_validate({"from": first_day, "to": last_day})
    try:
        async with session.begin_nested():
            reconciliation, _ = await service.start(
                session,
                integration.id,
                body,
                integration.partner_id,
                trigger="nightly",
                started_at=now,
            )
    except ApiError as exc:
        log.info(
            "nightly reconciliation skipped", integration_id=str(integration.id), reason=exc.detail
        )
        return None
    return reconciliation.id
