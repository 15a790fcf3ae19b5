"""A connection lost in a connector (a refused or spent refresh token) is announced by the
API alone: status and reason, one notification, one ``integration.status_changed`` webhook;
the integration's documents stay pending."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Notification
from invoicesync_api.sync.results import ResultApplier
from invoicesync_api.webhooks.models import WebhookDelivery
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.events.integrations import IntegrationConnectionLost
from tests.integration.api.conftest import add_integration, invoice

Sessions = async_sessionmaker[AsyncSession]
REFUSAL = "exact refused the stored authorisation (invalid_grant: Old refresh token used.)"


async def _integration_with_tokens(
    sessionmaker: Sessions, client_id: str
) -> tuple[uuid.UUID, datetime]:
    integration_id = await add_integration(sessionmaker, client_id)
    issued = datetime.now(UTC) - timedelta(minutes=9)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Integration)
            .where(Integration.id == integration_id)
            .values(token_issued_at=issued)
        )
    return integration_id, issued


def _lost(
    integration_id: uuid.UUID,
    issued: datetime | None,
    *,
    reason: str = "refresh_refused",
    message: str = REFUSAL,
) -> Envelope:
    event = IntegrationConnectionLost(
        integration_id=integration_id,
        system="exact",
        status="needs_reauthorization",
        reason=reason,
        message=message,
        credentials_issued_at=issued,
        detected_at=datetime.now(UTC),
    )
    return Envelope.wrap(event, source="/connectors/exact", subject=str(integration_id), key="k")


async def _announced(
    sessionmaker: Sessions, integration_id: uuid.UUID
) -> tuple[int, list[dict[str, object]]]:
    async with sessionmaker() as session:
        integration = await session.get(Integration, integration_id)
        assert integration is not None
        notifications = (
            await session.scalars(
                select(Notification).where(
                    Notification.client_id == integration.client_id,
                    Notification.kind == "integration_status_changed",
                )
            )
        ).all()
        deliveries = (
            await session.scalars(
                select(WebhookDelivery).where(
                    WebhookDelivery.event_type == "integration.status_changed"
                )
            )
        ).all()
    ours = [
        d.payload["data"]
        for d in deliveries
        if d.payload["data"]["integration_id"] == str(integration_id)
    ]
    return len(notifications), ours


async def test_connection_lost_is_announced_once_and_documents_stay_pending(
    partner: httpx.Client, client_id: str, sessionmaker: Sessions
) -> None:
    endpoint = partner.post(
        "/v1/webhook-endpoints", json={"url": "https://8.8.8.8/hook", "events": ["*"]}
    )
    assert endpoint.status_code == 201, endpoint.text
    integration_id, issued = await _integration_with_tokens(sessionmaker, client_id)
    posted = partner.post("/v1/invoices", json=invoice(client_id, number="LOST-1"))
    assert posted.status_code == 201, posted.text
    applier = ResultApplier(sessionmaker)

    first = _lost(integration_id, issued)
    await applier.handle(first)
    await applier.handle(first)  # redelivered
    await applier.handle(_lost(integration_id, issued))  # the next document's report

    shown = partner.get(f"/v1/integrations/{integration_id}").json()
    assert shown["status"] == "needs_reauthorization"
    assert shown["status_reason"] == REFUSAL
    notifications, webhooks = await _announced(sessionmaker, integration_id)
    assert notifications == 1
    assert len(webhooks) == 1
    assert webhooks[0]["status"] == "needs_reauthorization" and webhooks[0]["reason"] == REFUSAL
    [state] = partner.get(f"/v1/invoices/{posted.json()['id']}").json()["sync"]
    assert state["status"] == "pending"


async def test_a_report_about_replaced_tokens_changes_nothing(
    partner: httpx.Client, client_id: str, sessionmaker: Sessions
) -> None:
    """Another replica refreshed (or the user reconnected) after the refused call."""
    integration_id, issued = await _integration_with_tokens(sessionmaker, client_id)

    await ResultApplier(sessionmaker).handle(_lost(integration_id, issued - timedelta(minutes=10)))

    assert partner.get(f"/v1/integrations/{integration_id}").json()["status"] == "active"
    assert await _announced(sessionmaker, integration_id) == (0, [])


async def test_a_withdrawn_division_is_announced_with_what_to_do(
    partner: httpx.Client, client_id: str, sessionmaker: Sessions
) -> None:
    """Not a token refusal but the grant's reach: announced the same way, once."""
    endpoint = partner.post(
        "/v1/webhook-endpoints", json={"url": "https://8.8.8.8/hook", "events": ["*"]}
    )
    assert endpoint.status_code == 201, endpoint.text
    integration_id, issued = await _integration_with_tokens(sessionmaker, client_id)
    withdrawn = (
        "The Exact user who connected this integration no longer has access to division 42 "
        "(Exact said: Forbidden). [...] then reconnect the integration"
    )
    lost = _lost(integration_id, issued, reason="division_access_withdrawn", message=withdrawn)

    await ResultApplier(sessionmaker).handle(lost)
    await ResultApplier(sessionmaker).handle(lost)

    shown = partner.get(f"/v1/integrations/{integration_id}").json()
    assert (shown["status"], shown["status_reason"]) == ("needs_reauthorization", withdrawn)
    notifications, webhooks = await _announced(sessionmaker, integration_id)
    assert notifications == 1 and [w["reason"] for w in webhooks] == [withdrawn]
