"""The failure brake: when documents of one integration fail for the same permanent cause
``failure_brake_after`` times in a row, sending pauses until a person fixes the cause and
resumes, instead of failing the whole batch one document after the other.

The API decides (connectors only report ``sync.failed``). The run of failures is counted on
the integration row by one UPDATE per result, so replicas applying results at once never
lose or double a count; a success ends the run. Paused, connectors leave the integration's
documents pending, as after a lost connection (connectors/runtime.py); a permanent failure
that still arrives (a push already under way) keeps its document pending instead of failing
it. ``resume`` asks for every waiting document again, oldest first, and the connectors'
ledger sends each once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.errors.exceptions import Conflict
from invoicesync_api.i18n import notifications
from invoicesync_api.i18n.catalog import N_
from invoicesync_api.integrations import connection, repository
from invoicesync_shared import clock
from invoicesync_shared.db.models import Integration
from invoicesync_shared.states import FailureCode, IntegrationStatus

log = structlog.get_logger()
DEFAULT_AFTER = 3
# Permanent failures about the document, not the integration: a connector that does not
# book a kind yet refuses every document of it, and that must not pause its sales ones.
NOT_COUNTED = frozenset({FailureCode.KIND_NOT_SUPPORTED})
# Shown as a pending document's ``waiting_reason`` while its integration is paused.
WAITING_REASON = "integration_paused"


class Brake(StrEnum):
    """What a permanent failure does: counted (the document fails), the one that pauses
    the integration (it fails too), or held (already paused: the document waits)."""

    COUNTED = "counted"
    PAUSED = "paused"
    HELD = "held"


@dataclass(frozen=True)
class Step:
    """A success that ends a run of failures, written in its own transaction after the
    answer's commit: the answer holds its document's sync state, and taking the
    integration row after it would deadlock with a sync run (integrations, then sync
    states). A permanent failure is counted inside the answer's transaction instead, with
    the row taken first (sync/results.py), so exactly ``failure_brake_after`` fail."""

    integration_id: uuid.UUID


async def take(session: AsyncSession, step: Step) -> None:
    integration = await repository.find_integration(session, step.integration_id)
    if integration is not None:
        await success(session, integration)


async def permanent_failure(
    session: AsyncSession, integration: Integration, code: str, message: str
) -> Brake:
    """Count a permanent failure of ``integration``'s document for ``code``; pause it when
    the run reaches its setting. Only an active integration counts (and pauses)."""
    counted = await repository.count_failure(session, integration.id, code)
    # The row is ours (the UPDATE's lock) or was not active: read what it is now.
    await repository.read_again(session, integration)
    if counted is None:
        paused = integration.status == IntegrationStatus.PAUSED
        return Brake.HELD if paused else Brake.COUNTED
    in_a_row, after = counted
    if in_a_row < after:
        return Brake.COUNTED
    await _pause(session, integration, code, message, in_a_row)
    return Brake.PAUSED


async def success(session: AsyncSession, integration: Integration) -> None:
    """A document went through: the run of failures is over. Writes only when there is a
    run (no statement per booking: the row as this transaction read it shows none; a
    failure counted since is ended by the next success); a paused integration keeps its
    cause until resumed."""
    if not integration.failure_streak_count:
        return
    await repository.end_failure_run(session, integration.id)


async def resume(session: AsyncSession, integration: Integration) -> int:
    """Send again: active, the run forgotten, every waiting document asked for now (oldest
    first), announced once. Returns how many were asked for. The one way out of ``paused``,
    for the endpoint and for whatever else decides the cause is fixed."""
    await repository.lock(session, integration)
    if integration.status != IntegrationStatus.PAUSED:
        raise Conflict(
            N_("The integration is {status}, not paused: there is nothing to resume."),
            params={"status": integration.status},
        )
    integration.status = IntegrationStatus.ACTIVE
    integration.status_reason = None
    integration.failure_streak_code, integration.failure_streak_count = None, 0
    integration.resumed_at = clock.now()  # connectors forget master data read before it
    await session.flush()
    asked = await connection.resume(session, integration)
    log.info("integration unpaused", integration_id=str(integration.id), documents=asked)
    return asked


def cause(integration: Integration) -> dict[str, str] | None:
    """Why a paused integration stopped sending: the failure's code and its message."""
    if integration.status != IntegrationStatus.PAUSED:
        return None
    return {
        "code": integration.failure_streak_code or "",
        "message": integration.status_reason or "",
    }


async def _pause(
    session: AsyncSession, integration: Integration, code: str, message: str, in_a_row: int
) -> None:
    await repository.lock(session, integration)  # as every status change (documents/accept.py)
    params: dict[str, object] = {
        "system": integration.system,
        "status": IntegrationStatus.PAUSED,
        "code": code,
        "reason": message,
        "in_a_row": in_a_row,
        "integration_id": str(integration.id),
    }
    title, body = notifications.paused_texts("en", params)
    await connection.hold(
        session,
        integration,
        IntegrationStatus.PAUSED,
        message,
        title=title,
        body=body,
        cause={"code": code, "message": message},
        params=params,
    )
    log.warning(
        "integration paused by the failure brake",
        integration_id=str(integration.id),
        code=code,
        in_a_row=in_a_row,
    )
