"""A broken connection, announced by the API alone: the integration's status and reason,
one notification (kind ``integration_status_changed``) and one
``integration.status_changed`` webhook, in the caller's transaction.

Connectors only report (``IntegrationConnectionLost`` on the results topic); Lexware's
``token.revoked`` callback comes here too. Documents of the integration stay ``pending``
and are asked for again at once when it is connected again (``resume``).
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.clients import repository as clients
from invoicesync_api.db.models import Notification
from invoicesync_api.documents import fanout
from invoicesync_api.integrations import repository
from invoicesync_api.sync import announce
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.integrations import IntegrationConnectionLost
from invoicesync_shared.states import IntegrationStatus

log = structlog.get_logger()
SYSTEM_NAMES = {"exact": "Exact Online", "lexware": "Lexware Office", "yuki": "Yuki"}


async def mark_broken(
    session: AsyncSession,
    integration: Integration,
    status: str,
    reason: str,
    *,
    code: str | None = None,
    reason_params: dict[str, str] | None = None,
) -> None:
    """Set ``status`` with ``reason`` and tell the user and the partner once; ``code``
    (and ``reason_params``) write the reason in the reader's language."""
    action = (
        "Connect it again to resume syncing; its documents wait until then."
        if status == IntegrationStatus.NEEDS_REAUTHORIZATION
        else "Fix the connection and verify it again; its documents wait until then."
    )
    name = SYSTEM_NAMES.get(integration.system, integration.system)
    await hold(
        session,
        integration,
        status,
        reason,
        title=f"{name}: the connection needs attention",
        body=f"{reason[:1].upper()}{reason[1:]}. {action}",
        cause={"code": status, "message": reason},
        params={
            "system": integration.system,
            "status": status,
            "reason": reason,
            "reason_code": code,
            "reason_params": reason_params or {},
        },
        reason_code=code,
        reason_params=reason_params,
    )
    log.warning("integration connection lost", integration_id=str(integration.id), status=status)


async def hold(
    session: AsyncSession,
    integration: Integration,
    status: str,
    reason: str,
    *,
    title: str,
    body: str,
    cause: dict[str, str],
    params: dict[str, object],
    reason_code: str | None = None,
    reason_params: dict[str, str] | None = None,
) -> None:
    """Stop sending (``status`` with ``reason``: its documents wait, pending) and tell the
    user (one notification) and the partner (one ``integration.status_changed``) once; the
    caller holds the row and has checked it was active. Undone by ``resume``."""
    integration.status = status
    integration.status_reason = reason
    # The reason's code (else the cause's) renders it in the reader's language where the
    # catalogue has it.
    integration.status_reason_code = reason_code or (
        None if cause["code"] == status else cause["code"]
    )
    integration.status_reason_params = reason_params or None
    session.add(
        Notification(
            partner_id=integration.partner_id,
            client_id=integration.client_id,
            kind="integration_status_changed",
            title=title,
            body=body,
            counts={},
            params=params,
            errors=[cause],
        )
    )
    await announce.integration_status(session, integration, cause=cause)


async def apply_connection_lost(session: AsyncSession, event: IntegrationConnectionLost) -> None:
    """Only an active integration changes, and only while it still holds the refused
    tokens: a report about tokens replaced since (a refresh elsewhere, a reconnect) is
    old news, and one already announced is not announced twice."""
    integration = await repository.find_locked(session, event.integration_id)
    if integration is None or integration.status != IntegrationStatus.ACTIVE:
        return
    if (
        event.credentials_issued_at is not None
        and integration.token_issued_at != event.credentials_issued_at
    ):
        log.info(
            "connection report about replaced tokens ignored",
            integration_id=str(event.integration_id),
        )
        return
    await mark_broken(
        session,
        integration,
        event.status,
        event.message,
        code=event.reason,
        reason_params=event.params,
    )


BROKEN = (IntegrationStatus.NEEDS_REAUTHORIZATION, IntegrationStatus.ERROR)


async def resume(session: AsyncSession, integration: Integration) -> int:
    """Connected again (or unpaused): its waiting documents are asked for now, oldest first,
    not at the sweeper's next round; returns how many. Announced like every status change."""
    await announce.integration_status(session, integration)
    client = await clients.find_client(session, integration.client_id)
    assert client is not None
    documents = await repository.list_waiting_documents(session, integration.id)
    for document in documents:
        await fanout.request_sync(session, document, client, [integration])
    log.info("integration resumed", integration_id=str(integration.id), documents=len(documents))
    return len(documents)
