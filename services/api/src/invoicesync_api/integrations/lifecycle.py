"""Deactivate from a date, relink, and the one-call repair of duplicate booking numbers.

Customer links are keyed by the remote book (division, organisation, administration), not
by the integration's state, so neither a reset nor a relink ever re-imports customers.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.db.models import Document, DocumentSync
from invoicesync_api.errors.exceptions import Conflict, Unprocessable
from invoicesync_api.integrations.service import lock, merged_settings, set_verdict
from invoicesync_api.integrations.verification import Verdict
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.models import Integration
from invoicesync_shared.states import IntegrationStatus, SyncStatus


async def reset_from(session: AsyncSession, integration: Integration, from_date: date) -> int:
    """Forget the sync state of documents dated on or after ``from_date``; a new
    generation makes the connector push them again (after looking them up)."""
    dated = select(Document.id).where(Document.issue_date >= from_date)
    result = await session.execute(
        update(DocumentSync)
        .where(DocumentSync.integration_id == integration.id, DocumentSync.document_id.in_(dated))
        .values(
            status=SyncStatus.PENDING,
            booking_number=None,
            remote_id=None,
            sent_at=None,
            payment_status=None,
            error_code=None,
            error_message=None,
            error_retryable=None,
            duplicate_of=None,
            waiting_until=None,
            waiting_reason=None,
            generation=DocumentSync.generation + 1,
        )
    )
    # Their booking numbers here are gone; another integration's may remain.
    numbered = select(DocumentSync.document_id).where(
        DocumentSync.document_id == Document.id, DocumentSync.booking_number.is_not(None)
    )
    await session.execute(
        update(Document)
        .where(Document.id.in_(dated), Document.has_booking_number)
        .where(
            Document.id.in_(
                select(DocumentSync.document_id).where(
                    DocumentSync.integration_id == integration.id
                )
            )
        )
        .values(has_booking_number=numbered.exists())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def deactivate(session: AsyncSession, integration: Integration, from_date: date) -> int:
    await lock(session, integration)
    if integration.status == IntegrationStatus.DEACTIVATED:
        raise Conflict("The integration is already deactivated.")
    reset = await reset_from(session, integration, from_date)
    integration.status = IntegrationStatus.DEACTIVATED
    integration.deactivated_at = datetime.now(UTC)
    integration.status_reason = f"Deactivated from {from_date.isoformat()}."
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
            "Relink keeps the stored credentials; change the access key with PATCH "
            "/v1/integrations/{id}.",
            extra={"errors": [{"field": "settings.access_key", "message": "not changed here"}]},
        )
    return plain


async def apply_relink(
    session: AsyncSession, integration: Integration, settings: dict[str, Any], verdict: Verdict
) -> None:
    """Active again with its original activation date, so its old documents still count."""
    await lock(session, integration)
    integration.settings = settings
    integration.deactivated_at = None
    set_verdict(integration, verdict)


async def first_duplicate_date(session: AsyncSession, integration_id: uuid.UUID) -> date | None:
    return await session.scalar(
        select(func.min(Document.issue_date))
        .join(DocumentSync, DocumentSync.document_id == Document.id)
        .where(
            DocumentSync.integration_id == integration_id,
            or_(
                DocumentSync.duplicate_of.is_not(None),
                DocumentSync.error_code == "remote_entry_missing",
            ),
        )
    )
