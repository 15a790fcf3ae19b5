"""What an admin does to an integration: connect, authorise, change settings, deactivate,
relink and repair. The API's routes and the console's pages both call these, so the
console never repeats the rules (checks with the accounting system, all-or-nothing
repair) the API answers by."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.db.models import Client, SyncRun
from invoicesync_api.errors.exceptions import Conflict, ConnectionFailed, Unprocessable
from invoicesync_api.i18n.catalog import N_
from invoicesync_api.integrations import connection, lifecycle, oauth, repository, service
from invoicesync_api.integrations.schemas import IntegrationIn, IntegrationPatch
from invoicesync_api.integrations.verification import Verdict, verify
from invoicesync_api.settings import ApiSettings
from invoicesync_api.sync import announce
from invoicesync_api.sync import repository as run_store
from invoicesync_api.sync import service as runs
from invoicesync_api.sync.schemas import SyncRunIn
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.models import Integration
from invoicesync_shared.states import IntegrationStatus


def _refused(system: str, verdict: Verdict) -> ConnectionFailed:
    return ConnectionFailed(
        verdict.message or "The settings were refused.",
        system=system,
        reason_params=verdict.params,
        extra={"reason": verdict.code},
    )


async def connect(
    session: AsyncSession,
    settings: ApiSettings,
    box: SecretBox,
    client: Client,
    body: IntegrationIn,
    *,
    console: bool = False,
) -> tuple[Integration, str | None]:
    """A new integration and, for OAuth systems, the consent page's address (``console``:
    the callback then leads back to the console). Yuki is checked at once: refused
    settings leave nothing behind and raise ``ConnectionFailed``."""
    integration, state = service.new_integration(client, body, box, console=console)
    repository.add_integration(session, integration)
    if state is not None:
        await repository.save_integration(session, integration)
        return integration, oauth.authorize_url(settings, integration.system, state)
    # Committed first, so the connector can read the stored access key while verifying.
    await session.commit()
    verdict = await verify(settings, integration.system, integration.id)
    if not verdict.ok:
        await repository.delete_integration(session, integration)
        await session.commit()
        raise _refused(integration.system, verdict)
    await service.apply_verdict(session, integration, verdict)
    await announce.integration_status(session, integration)
    await repository.save_integration(session, integration)
    return integration, None


async def authorise(
    session: AsyncSession,
    settings: ApiSettings,
    box: SecretBox,
    state: str,
    code: str | None,
    error: str | None,
) -> Integration:
    """Back from "allow access": the tokens for the integration the state was made for,
    checked with the system; resumed when it was a reconnect."""
    integration = await repository.find_by_state_hash(session, oauth.state_hash(state))
    if integration is None:
        raise Unprocessable(N_("Unknown or already used OAuth state; start the connection again."))
    integration.oauth_state_hash = None  # single-use
    if error or not code:
        integration.status = IntegrationStatus.ERROR
        service.set_reason(integration, "access_not_granted", {"error": error or "no code"})
        return integration
    credentials, token_columns = await oauth.exchange_code(settings, integration.system, code)
    integration.credentials = box.encrypt_json(credentials)
    for column, value in token_columns.items():
        setattr(integration, column, value)
    reconnected = integration.status in connection.BROKEN
    await session.commit()  # the connector reads the tokens while verifying
    verdict = await verify(settings, integration.system, integration.id)
    await service.apply_verdict(session, integration, verdict)
    if reconnected and integration.status == IntegrationStatus.ACTIVE:
        await connection.resume(session, integration)
    else:
        await announce.integration_status(session, integration)
    await session.flush()
    return integration


async def update(
    session: AsyncSession,
    settings: ApiSettings,
    box: SecretBox,
    integration: Integration,
    body: IntegrationPatch,
) -> None:
    """Nightly sync, the failure brake and settings. Changed settings are checked with the
    accounting system first and the other fields are set only after: a refusal raises and
    leaves the whole integration as it was (the API and the console alike)."""
    before = (integration.settings, integration.credentials)
    changed = body.settings is not None and service.changed_settings(
        integration, body.settings, box
    )
    checked = (IntegrationStatus.ACTIVE, IntegrationStatus.PAUSED, *connection.BROKEN)
    if not (changed and integration.credentials is not None and integration.status in checked):
        _set_schedule(integration, body)
        return
    await session.commit()  # the connector reads the settings while verifying
    verdict = await verify(settings, integration.system, integration.id)
    if not verdict.ok:
        integration.settings, integration.credentials = before
        await session.commit()
        raise _refused(integration.system, verdict)
    _set_schedule(integration, body)
    reconnected = integration.status in connection.BROKEN
    if integration.status == IntegrationStatus.PAUSED:
        return  # checked; sending waits for resume
    await service.apply_verdict(session, integration, verdict)
    if reconnected:  # e.g. Yuki's new access key after the old one was refused
        await connection.resume(session, integration)


def _set_schedule(integration: Integration, body: IntegrationPatch) -> None:
    """Nightly sync and the failure brake, as given."""
    if body.nightly_sync is not None:
        integration.nightly_sync = body.nightly_sync
    if body.nightly_hour is not None:
        integration.nightly_hour = body.nightly_hour
    if body.failure_brake_after is not None:
        integration.failure_brake_after = body.failure_brake_after
    if body.nightly_reconciliation_days is not None:
        integration.nightly_reconciliation_days = body.nightly_reconciliation_days


async def deactivate(session: AsyncSession, integration: Integration, from_date: date) -> int:
    """Deactivated; documents dated on or after ``from_date`` lose their sync state."""
    reset = await lifecycle.deactivate(session, integration, from_date)
    await announce.integration_status(session, integration)
    return reset


async def relink(
    session: AsyncSession,
    settings: ApiSettings,
    box: SecretBox,
    integration: Integration,
    changes: dict[str, object] | None,
) -> None:
    """Link again (same or new settings) keeping customer links: nothing is re-imported."""
    new_settings = lifecycle.relink_settings(integration, changes, box)
    before = integration.settings
    integration.settings = new_settings
    await session.commit()  # the connector verifies what is stored
    verdict = await verify(settings, integration.system, integration.id)
    if not verdict.ok:
        integration.settings = before  # refused: left as it was
        await session.commit()
        raise _refused(integration.system, verdict)
    await lifecycle.apply_relink(session, integration, new_settings, verdict)
    await announce.integration_status(session, integration)


@dataclass(frozen=True)
class RepairPlan:
    """What a repair would do, before it does it (the console's confirmation)."""

    from_date: date
    documents_affected: int
    duplicates: int


async def repair_plan(
    session: AsyncSession, integration: Integration, from_date: date | None
) -> RepairPlan:
    """The date the repair starts from (default: the first affected one) and how many
    documents it sends again; raises as the repair itself would."""
    chosen = from_date or await repository.first_duplicate_date(session, integration.id)
    if chosen is None:
        raise Unprocessable(
            N_(
                "No duplicate booking numbers or deleted entries are flagged; "
                "give a from_date to repair anyway."
            )
        )
    if integration.status == IntegrationStatus.DEACTIVATED:
        raise Conflict(N_("The integration is deactivated; relink it first."))
    affected = await repository.count_synced_from(session, integration.id, chosen)
    duplicates = await repository.count_duplicates(session, integration.id)
    return RepairPlan(chosen, affected, duplicates)


@dataclass(frozen=True)
class Repaired:
    from_date: date
    documents_reset: int
    run: SyncRun


async def repair(
    session: AsyncSession,
    settings: ApiSettings,
    box: SecretBox,
    integration: Integration,
    from_date: date | None,
    partner_id: uuid.UUID,
) -> Repaired:
    """The 14-step manual repair in one call: deactivate from the first affected date,
    relink with the same settings (customer links kept), and resync from that date.

    All or nothing: the connection is checked first, and the reset, the relink and the run
    are one transaction, so a refused connection or a run already going changes nothing."""
    plan = await repair_plan(session, integration, from_date)
    same_settings = lifecycle.relink_settings(integration, None, box)
    await session.commit()  # nothing held while the connector checks the stored settings
    verdict = await verify(settings, integration.system, integration.id)
    if not verdict.ok:
        raise ConnectionFailed(
            verdict.message or "The settings were refused.",
            system=integration.system,
            reason_params=verdict.params,
            around=N_(
                "The connection was refused, so nothing was changed: {reason} Fix it and "
                "repair again."
            ),
            extra={"reason": verdict.code},
        )
    reset = await lifecycle.deactivate(session, integration, plan.from_date)
    await lifecycle.apply_relink(session, integration, same_settings, verdict)
    await announce.integration_status(session, integration)
    run = await runs.start(session, SyncRunIn(integration_id=integration.id), partner_id)
    await run_store.save_run(session, run)
    return Repaired(plan.from_date, reset, run)
