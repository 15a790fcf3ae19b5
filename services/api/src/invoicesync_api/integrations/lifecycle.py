"""Deactivate from a date, relink, and the one-call repair of duplicate booking numbers.

Customer links are keyed by the remote book (division, organisation, administration), not
by the integration's state, so neither a reset nor a relink ever re-imports customers.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.errors.exceptions import Conflict, Unprocessable
from invoicesync_api.i18n.catalog import N_
from invoicesync_api.integrations import repository
from invoicesync_api.integrations.service import merged_settings, set_reason, set_verdict
from invoicesync_api.integrations.verification import Verdict
from invoicesync_shared import clock
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.models import Integration
from invoicesync_shared.states import IntegrationStatus


async def deactivate(session: AsyncSession, integration: Integration, from_date: date) -> int:
    await repository.lock(session, integration)
    if integration.status == IntegrationStatus.DEACTIVATED:
        raise Conflict(N_("The integration is already deactivated."))
    reset = await repository.reset_from(session, integration, from_date)
    integration.status = IntegrationStatus.DEACTIVATED
    integration.deactivated_at = clock.now()
    set_reason(integration, "deactivated", {"from_date": from_date.isoformat()})
    return reset


def relink_settings(
    integration: Integration, raw: dict[str, Any] | None, box: SecretBox
) -> dict[str, Any]:
    """The new settings: what ``raw`` changes merged into the current ones (validated for
    the system); the current ones when nothing is given."""
    if not raw:
        return {k: v for k, v in integration.settings.items() if k != "remote"}
    plain, new_secrets = merged_settings(integration, raw, box)
    if new_secrets:
        raise Unprocessable(
            N_(
                "Relink keeps the stored credentials; change the access key with PATCH "
                "/v1/integrations/{id}."
            ),
            extra={"errors": [{"field": "settings.access_key", "message": N_("not changed here")}]},
        )
    return plain


async def apply_relink(
    session: AsyncSession, integration: Integration, settings: dict[str, Any], verdict: Verdict
) -> None:
    """Active again with its original activation date, so its old documents still count."""
    await repository.lock(session, integration)
    integration.settings = settings
    integration.deactivated_at = None
    set_verdict(integration, verdict)
