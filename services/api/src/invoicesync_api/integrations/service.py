"""Integration lifecycle: created → (authorised) → verified active, or error."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.db.models import Client
from invoicesync_api.errors.exceptions import InvalidSettings, Unprocessable
from invoicesync_api.i18n.catalog import N_
from invoicesync_api.i18n.status_reasons import english, reason_in
from invoicesync_api.integrations import brake, oauth, repository
from invoicesync_api.integrations.schemas import IntegrationHealth, IntegrationIn, IntegrationOut
from invoicesync_api.integrations.verification import Verdict
from invoicesync_api.settings import ApiSettings
from invoicesync_shared import clock
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.models import Integration
from invoicesync_shared.integration_settings import SETTINGS_MODELS
from invoicesync_shared.states import IntegrationStatus


def validated_settings(system: str, raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings kept in plain JSON, secrets to encrypt) for ``system``."""
    try:
        model = SETTINGS_MODELS[system].from_user(raw)
    except ValidationError as exc:
        raise InvalidSettings(system, list(exc.errors())) from exc
    # The model leaves secrets (and its system tag) out of its JSON.
    plain = model.model_dump(mode="json")
    return plain, model.secrets()


# Settings that name the remote book: changing them is a relink, not an edit.
BOOK_SETTINGS = {"exact": ("division",), "yuki": ("administration_id",)}


def merged_settings(
    integration: Integration, changes: dict[str, Any], box: SecretBox
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stored settings with ``changes`` merged in, validated as a whole: (plain
    settings, secrets that differ from the stored ones)."""
    current = {k: v for k, v in integration.settings.items() if k != "remote"}
    stored_secrets = box.decrypt_json(integration.credentials) if integration.credentials else {}
    kept = {name: stored_secrets[name] for name in ("access_key",) if name in stored_secrets}
    plain, secrets = validated_settings(integration.system, {**current, **kept, **changes})
    return plain, {k: v for k, v in secrets.items() if stored_secrets.get(k) != v}


def changed_settings(integration: Integration, changes: dict[str, Any], box: SecretBox) -> bool:
    """Merge ``changes`` into the stored settings; whether anything changed. A new Yuki
    access key replaces the stored, encrypted one. The book itself changes by relink."""
    for key in BOOK_SETTINGS.get(integration.system, ()):
        if key in changes and changes[key] != integration.settings.get(key):
            raise Unprocessable(
                N_("settings.{key} names another book; use POST /v1/integrations/{{id}}/relink."),
                params={"key": key},
                extra={"errors": [{"field": f"settings.{key}", "message": N_("use relink")}]},
            )
    plain, new_secrets = merged_settings(integration, changes, box)
    current = {k: v for k, v in integration.settings.items() if k != "remote"}
    if plain == current and not new_secrets:
        return False
    integration.settings = plain
    if new_secrets:
        stored = box.decrypt_json(integration.credentials) if integration.credentials else {}
        integration.credentials = box.encrypt_json({**stored, **new_secrets})
    return True


def new_integration(
    client: Client, body: IntegrationIn, box: SecretBox, *, console: bool = False
) -> tuple[Integration, str | None]:
    """The integration row, and the OAuth state to put in the authorize URL (if any)."""
    plain, secrets = validated_settings(body.system, body.settings)
    integration = Integration(
        id=uuid.uuid4(),
        partner_id=client.partner_id,
        client_id=client.id,
        system=body.system,
        settings=plain,
        nightly_sync=body.nightly_sync,
        nightly_hour=body.nightly_hour,
        failure_brake_after=body.failure_brake_after,
        nightly_reconciliation_days=body.nightly_reconciliation_days,
        status=IntegrationStatus.PENDING_AUTHORIZATION,
    )
    state = None
    if body.system in oauth.OAUTH_SYSTEMS:
        state, integration.oauth_state_hash = oauth.new_state(console=console)
    else:
        integration.credentials = box.encrypt_json(secrets)
    return integration, state


async def apply_verdict(session: AsyncSession, integration: Integration, verdict: Verdict) -> None:
    await repository.lock(session, integration)
    set_verdict(integration, verdict)


def set_verdict(integration: Integration, verdict: Verdict) -> None:
    """The verdict's status on an integration already locked (``repository.lock``)."""
    if verdict.ok and (elsewhere := other_books(integration, verdict.details)):
        integration.status = IntegrationStatus.ERROR
        set_reason(integration, "other_organisation", elsewhere)
        return
    if verdict.ok:
        integration.status = IntegrationStatus.ACTIVE
        integration.status_reason = integration.status_reason_code = None
        integration.status_reason_params = None
        # Checked by a person (verify, relink, reconnect): the failure brake counts anew.
        integration.failure_streak_code, integration.failure_streak_count = None, 0
        integration.activated_at = integration.activated_at or clock.now()
        if verdict.details:
            integration.settings = {**integration.settings, "remote": verdict.details}
    else:
        integration.status = IntegrationStatus.ERROR
        integration.status_reason = verdict.message
        integration.status_reason_code = verdict.code
        integration.status_reason_params = verdict.params or None


def set_reason(integration: Integration, code: str, params: dict[str, Any]) -> None:
    """A reason the API decides itself: its code, its parameters and the English text."""
    integration.status_reason_code, integration.status_reason_params = code, params
    integration.status_reason = english(code, system=integration.system, params=params)


def other_books(integration: Integration, details: dict[str, Any] | None) -> dict[str, str] | None:
    """The organisations (``name``, ``granted``, ``booked``) when a grant reaches another
    company's books than the integration's, or None: such a grant must not be used.
    Lexware's organisation comes with the grant, not with our settings: a user who
    reconnects and picks another organisation would send this client's documents (and the
    ones waiting) into that company's books."""
    before = (integration.settings.get("remote") or {}).get("organization_id")
    now = (details or {}).get("organization_id")
    if not before or not now or before == now:
        return None
    name = (details or {}).get("company_name") or now
    return {"name": str(name), "granted": str(now), "booked": str(before)}


def integration_out(
    integration: Integration,
    *,
    authorize_url: str | None = None,
    counts: dict[str, int] | None = None,
    health: IntegrationHealth | None = None,
    waiting: tuple[datetime, str] | None = None,
    language: str = "en",
) -> IntegrationOut:
    """The integration as answered; its status reason in ``language`` when the connector
    gave it a code the catalogue has (else as stored)."""
    reason = reason_in(language, integration)
    cause = brake.cause(integration)
    if cause is not None:
        cause = {**cause, "message": reason or cause["message"]}
    return IntegrationOut(
        id=integration.id,
        client_id=integration.client_id,
        system=integration.system,
        status=integration.status,
        status_reason=reason,
        settings=integration.settings,
        nightly_sync=integration.nightly_sync,
        nightly_hour=integration.nightly_hour,
        failure_brake_after=integration.failure_brake_after,
        paused_cause=cause,
        nightly_reconciliation_days=integration.nightly_reconciliation_days,
        activated_at=integration.activated_at,
        deactivated_at=integration.deactivated_at,
        created_at=integration.created_at,
        authorize_url=authorize_url,
        counts=counts or {},
        health=health,
        waiting_until=waiting[0] if waiting else None,
        waiting_reason=waiting[1] if waiting else None,
    )


def begin_reconnect(
    integration: Integration, settings: ApiSettings, *, console: bool = False
) -> str:
    """The consent page's address for allowing access again (Exact, Lexware); the OAuth
    callback finds the integration by the new state. The API and the console both use it."""
    if integration.system not in oauth.OAUTH_SYSTEMS:
        raise Unprocessable(
            N_("Yuki connects with an access key: send the new one with PATCH {path} {body}."),
            params={"path": "/v1/integrations/{id}", "body": '{"settings": {"access_key": …}}'},
            extra={"errors": [{"field": "system", "message": N_("not an OAuth system")}]},
        )
    if integration.status == IntegrationStatus.DEACTIVATED:
        raise Unprocessable(N_("The integration is deactivated; relink it instead."))
    state, integration.oauth_state_hash = oauth.new_state(console=console)
    return oauth.authorize_url(settings, integration.system, state)
