"""Reporting a lost connection (a refused grant) to the API, from a push or a read-back.

Connectors never change the integration's status themselves: they publish
``IntegrationConnectionLost`` and the API decides, announces and notifies.
"""

from __future__ import annotations

from invoicesync_shared import clock
from invoicesync_shared.bus.producer import Publisher
from invoicesync_shared.connectors.errors import AuthorizationLost
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.events.integrations import IntegrationConnectionLost
from invoicesync_shared.states import IntegrationStatus


async def report_connection_lost(
    publisher: Publisher, integration: Integration, exc: AuthorizationLost
) -> None:
    """Publish the loss, keyed by client id like the client's results."""
    lost = IntegrationConnectionLost(
        integration_id=integration.id,
        system=integration.system,
        status="error" if exc.status == IntegrationStatus.ERROR else "needs_reauthorization",
        reason=exc.reason,
        message=exc.message,
        params=exc.params,
        credentials_issued_at=exc.credentials_issued_at or integration.token_issued_at,
        detected_at=clock.now(),
    )
    envelope = Envelope.wrap(
        lost,
        source=f"/connectors/{integration.system}",
        subject=str(integration.id),
        key=str(integration.client_id),
    )
    await publisher.publish(lost.TOPIC, envelope)
