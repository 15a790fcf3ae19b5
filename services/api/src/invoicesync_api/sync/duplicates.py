"""Duplicate booking numbers: Exact hands out "last + 1", so after entries are deleted
there, a number can be given a second time. Found when a number arrives, flagged on both
documents, and told to the partner. Only numbers of one series are compared
(numbering.py): a supplier's invoice number given by two suppliers is no duplicate."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.db.models import Document, DocumentSync, Notification
from invoicesync_api.sync import repository
from invoicesync_shared.db.models import Integration


async def flag_if_duplicate(
    session: AsyncSession,
    state: DocumentSync,
    integration: Integration,
    holders: Sequence[DocumentSync],
) -> bool:
    """Flag ``state`` and ``holders``, every other document of the integration holding
    its number in its series (found and locked under the number's lock with the state:
    ``repository.lock_answered``)."""
    if not holders:
        return False
    state.duplicate_of = holders[0].document_id
    for holder in holders:
        holder.duplicate_of = holder.duplicate_of or state.document_id
    await _notify(
        session,
        integration,
        state.booking_number or "",
        [state.document_id, *(h.document_id for h in holders)],
    )
    return True


async def _notify(
    session: AsyncSession, integration: Integration, number: str, ids: list[uuid.UUID]
) -> None:
    documents = await repository.list_documents(session, ids)
    names = ", ".join(sorted(d.number for d in documents))
    earliest = min(d.issue_date for d in documents)
    session.add(
        Notification(
            partner_id=integration.partner_id,
            client_id=integration.client_id,
            kind="duplicate_booking_number",
            title=f"Booking number {number} was given to {len(documents)} documents",
            body=(
                f"{integration.system} gave booking number {number} to documents {names}. "
                "An entry was probably deleted there. Repair with "
                f"POST /v1/integrations/{integration.id}/repair (from {earliest.isoformat()})."
            ),
            counts={"documents": len(documents)},
            params={
                "number": number,
                "count": len(documents),
                "system": integration.system,
                "names": names,
                "integration_id": str(integration.id),
                "earliest": earliest.isoformat(),
            },
            errors=[
                {
                    "document_id": str(d.id),
                    "number": d.number,
                    "code": "duplicate_booking_number",
                    "message": f"Booking number {number} is shared with another document.",
                }
                for d in documents
            ],
        )
    )


MISSING = "remote_entry_missing"


async def flag_missing_entry(
    session: AsyncSession, state: DocumentSync, integration: Integration, document: Document
) -> None:
    """The entry was deleted remotely, so its number will be handed out again: flagged so
    the repair starts from this document's date; the booking number stays visible."""
    number = state.booking_number or "?"
    state.error_code, state.error_retryable = MISSING, False
    state.error_message = (
        f"The {integration.system} entry for booking number {number} was deleted there; "
        "the next document may get the same number."
    )
    session.add(
        Notification(
            partner_id=integration.partner_id,
            client_id=integration.client_id,
            kind=MISSING,
            title=f"Entry {number} ({document.number}) was deleted in {integration.system}",
            body=(
                f"Document {document.number} is booked as {number}, but that entry no longer "
                f"exists. Repair with POST /v1/integrations/{integration.id}/repair "
                f"(from {document.issue_date.isoformat()})."
            ),
            counts={"documents": 1},
            params={
                "number": number,
                "document": document.number,
                "system": integration.system,
                "integration_id": str(integration.id),
                "issue_date": document.issue_date.isoformat(),
            },
            errors=[
                {
                    "document_id": str(document.id),
                    "number": document.number,
                    "code": MISSING,
                    "message": state.error_message,
                }
            ],
        )
    )
