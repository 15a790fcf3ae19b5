"""Carrying out a finished reconciliation's safe actions, once.

Safe are the actions whose every outcome is right whatever the report missed:
- ``push_again`` and ``adopt`` both give the document's sync state in the integration a
  new generation and ask its connector again. A connector looks a new generation up
  before it pushes (by our reference and marker), so an entry that carries ours is
  adopted and a missing one is pushed: the API never writes a remote id it was only told
  about, and never books a document twice.
- ``refresh`` reads payment statuses (and numbers given meanwhile) back now.
The rest (a hand-typed look-alike, a mismatch, a gap, duplicate numbers) waits for a
person: those are left in the answer as they are in the plan.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.db.models import Client, Document, Reconciliation
from invoicesync_api.documents import fanout
from invoicesync_api.errors.exceptions import Conflict
from invoicesync_api.i18n.catalog import N_
from invoicesync_api.reconciliations import repository
from invoicesync_shared import clock
from invoicesync_shared.db.models import Integration
from invoicesync_shared.states import RunStatus, SyncStatus

SENDS = ("push_again", "adopt")
# Already asked for: the connector's answer is still to come.
ON_ITS_WAY = (SyncStatus.PENDING, SyncStatus.SENDING)


async def apply(
    session: AsyncSession, reconciliation: Reconciliation, integration: Integration
) -> tuple[list[dict[str, Any]], bool]:
    """Send again what the plan says safely can be; returns each safe action with what was
    done, and whether a read-back is wanted (the caller asks for it after the commit)."""
    report = reconciliation.report
    if reconciliation.status != RunStatus.FINISHED or report is None:
        raise Conflict(N_("Only a finished reconciliation can be applied."))
    if report.get("applied_at"):
        raise Conflict(N_("This reconciliation was applied already; reconcile again."))
    client = await session.get(Client, reconciliation.client_id)
    assert client is not None
    done: list[dict[str, Any]] = []
    sent: set[str] = set()
    refresh = False
    for action in report["repair_plan"]:
        if not action["safe"]:
            continue
        if action["action"] == "refresh":
            refresh = True
            done.append({**action, "outcome": "read_back"})
        elif action["action"] in SENDS and action["id"] not in sent:
            sent.add(action["id"])
            outcome = await _send_again(session, client, integration, uuid.UUID(action["id"]))
            done.append({**action, "outcome": outcome})
    reconciliation.report = {**report, "applied_at": clock.now().isoformat(), "applied": done}
    return done, refresh


async def _send_again(
    session: AsyncSession, client: Client, integration: Integration, document_id: uuid.UUID
) -> str:
    document = await session.get(Document, document_id)
    if document is None or document.client_id != client.id:
        return "document_gone"
    state = await repository.lock_sync_state(session, document_id, integration.id)
    if state is None:
        return "not_synced_here"
    if state.status in ON_ITS_WAY:
        return "already_on_its_way"
    await repository.new_generation(session, document, state)
    await fanout.request_sync(session, document, client, [integration])
    return "requested"
