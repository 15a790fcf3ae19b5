"""``/_sandbox/lexware``: what tests and demos do that the public API cannot.

Create organisations and OAuth apps, switch small business, act as the user on vouchers
(finalise, pay, void, delete), inspect state, expire or revoke tokens.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel

from invoicesync_sandbox.entry_page import entry_page, missing_page
from invoicesync_sandbox.lexware import lifecycle
from invoicesync_sandbox.lexware.env import Env
from invoicesync_sandbox.lexware.oauth import OAuthState
from invoicesync_sandbox.lexware.rate_limit import TokenBuckets
from invoicesync_sandbox.lexware.store import Organisation, StoredFile, Voucher

TAX_TYPES = ("net", "gross", "vatfree")


class OrgIn(BaseModel):
    company_name: str = "Sandbox GmbH"
    tax_type: str = "net"
    small_business: bool = False
    legacy_errors: bool = False


class OrgPatch(BaseModel):
    company_name: str | None = None
    tax_type: str | None = None
    small_business: bool | None = None
    legacy_errors: bool | None = None
    subscription_status: str | None = None


class SmallBusinessIn(BaseModel):
    enabled: bool


class TokensIn(BaseModel):
    organization_id: str | None = None


class AppIn(BaseModel):
    name: str = "Sandbox partner app"
    redirect_uri: str
    client_id: str | None = None


class EditIn(BaseModel):
    line: int = 0  # among the lines that are not text
    net_amount: float  # the line's new net unit price


class PaidIn(BaseModel):
    paid_at: float | None = None  # sandbox epoch seconds; default now


def org_summary(org: Organisation) -> dict[str, Any]:
    return {
        "organization_id": org.id,
        "api_key": org.api_key,
        "legacy_errors": org.legacy_errors,
        "profile": org.profile(),
    }


def _voucher_summary(v: Voucher, org: Organisation | None = None) -> dict[str, Any]:
    return {
        "id": v.id,
        "voucherType": lifecycle.LIST_TYPE[v.kind],
        "voucherStatus": v.status,
        "voucherNumber": v.number,
        "version": v.version,
        "voucherDate": v.data["voucherDate"],
        "totalGrossAmount": v.gross_total(),
        "precedingSalesVoucherId": v.preceding_id,
        "contactId": v.data["address"].get("contactId"),
        "remark": v.data.get("remark"),
        # Uploaded files, as a test checks them (the bytes' size and SHA-256).
        "files": [_file_summary(org.files[f]) for f in v.files if org and f in org.files],
    }


def _file_summary(stored: StoredFile) -> dict[str, Any]:
    return {
        "id": stored.id,
        "contentType": stored.content_type,
        "size": len(stored.content),
        "sha256": hashlib.sha256(stored.content).hexdigest(),
    }


def org_state(org: Organisation) -> dict[str, Any]:
    contacts = [
        {
            "id": c.id,
            "version": c.version,
            "roles": c.data["roles"],
            "company": c.data.get("company"),
            "person": c.data.get("person"),
        }
        for c in org.contacts.values()
    ]
    subs = [
        {"subscriptionId": s.id, "eventType": s.event_type, "callbackUrl": s.callback_url}
        for s in org.subscriptions.values()
    ]
    return {
        **org_summary(org),
        "contacts": contacts,
        "vouchers": [_voucher_summary(v, org) for v in org.vouchers.values()],
        "subscriptions": subs,
    }


def _apply_patch(org: Organisation, body: OrgPatch) -> None:
    if body.tax_type is not None and body.tax_type not in TAX_TYPES:
        raise HTTPException(422, f"tax_type must be one of {TAX_TYPES}")
    if body.small_business is not None:
        org.small_business = body.small_business
        org.tax_type = "vatfree" if body.small_business else "net"
    for name in ("company_name", "tax_type", "legacy_errors", "subscription_status"):
        value = getattr(body, name)
        if value is not None:
            setattr(org, name, value)


def _org_or_404(env: Env, org_id: str) -> Organisation:
    org = env.store.get_org(org_id)
    if org is None:
        raise HTTPException(404, "unknown organisation")
    return org


def _step(
    env: Env, voucher_id: str, action: Callable[[Organisation, Voucher], None]
) -> dict[str, Any]:
    found = lifecycle.find_voucher(env, voucher_id)
    if found is None:
        raise HTTPException(404, "unknown voucher")
    org, voucher = found
    try:
        action(org, voucher)
    except lifecycle.TransitionError as exc:
        raise HTTPException(409, str(exc)) from exc
    return _voucher_summary(voucher)


def _org_routes(router: APIRouter, env: Env) -> None:
    @router.post("/organizations", status_code=201)
    async def create_org(body: OrgIn) -> dict[str, Any]:
        if body.tax_type not in TAX_TYPES:
            raise HTTPException(422, f"tax_type must be one of {TAX_TYPES}")
        tax_type = "vatfree" if body.small_business else body.tax_type
        org = env.store.create_org(
            body.company_name,
            env.now(),
            tax_type=tax_type,
            small_business=body.small_business,
            legacy_errors=body.legacy_errors,
        )
        return org_summary(org)

    @router.get("/organizations")
    async def list_orgs() -> list[dict[str, Any]]:
        return [org_summary(o) for o in list(env.store.orgs.values())]

    @router.get("/organizations/{org_id}")
    async def get_org(org_id: str) -> dict[str, Any]:
        return org_state(_org_or_404(env, org_id))

    @router.patch("/organizations/{org_id}")
    async def patch_org(org_id: str, body: OrgPatch) -> dict[str, Any]:
        org = _org_or_404(env, org_id)
        _apply_patch(org, body)
        return org_summary(org)

    @router.put("/organizations/{org_id}/small-business")
    async def small_business(org_id: str, body: SmallBusinessIn) -> dict[str, Any]:
        org = _org_or_404(env, org_id)
        _apply_patch(org, OrgPatch(small_business=body.enabled))
        return org_summary(org)


def _voucher_routes(router: APIRouter, env: Env) -> None:
    @router.get("/vouchers/{voucher_id}", response_class=HTMLResponse)
    async def show(voucher_id: str) -> HTMLResponse:
        """The voucher's page in "Lexware Office" (read-only): the console's link to it."""
        found = lifecycle.find_voucher(env, voucher_id)
        if found is None:
            return missing_page("Lexware Office: voucher")
        v = found[1]
        summary = _voucher_summary(v)
        return entry_page(
            f"Lexware Office: {v.kind} {v.number or '(draft)'}",
            [
                ("Voucher number", v.number or ""),
                ("Status", v.status),
                ("Voucher date", summary["voucherDate"]),
                ("Total gross", summary["totalGrossAmount"]),
            ],
        )

    @router.post("/vouchers/{voucher_id}/finalize")
    async def finalize(voucher_id: str) -> dict[str, Any]:
        return _step(env, voucher_id, lambda o, v: lifecycle.finalize(env, o, v))

    @router.post("/vouchers/{voucher_id}/pay")
    async def pay(voucher_id: str, body: PaidIn | None = None) -> dict[str, Any]:
        paid_at = body.paid_at if body else None
        return _step(env, voucher_id, lambda o, v: lifecycle.mark_paid(env, o, v, paid_at))

    @router.post("/vouchers/{voucher_id}/edit")
    async def edit(voucher_id: str, body: EditIn) -> dict[str, Any]:
        """A draft's line price changed by a person in the app."""
        return _step(
            env,
            voucher_id,
            lambda o, v: lifecycle.edit_draft(env, o, v, body.line, body.net_amount),
        )

    @router.post("/vouchers/{voucher_id}/void")
    async def void(voucher_id: str) -> dict[str, Any]:
        return _step(env, voucher_id, lambda o, v: lifecycle.void(env, o, v))

    @router.delete("/vouchers/{voucher_id}")
    async def delete(voucher_id: str) -> dict[str, Any]:
        return _step(env, voucher_id, lambda o, v: lifecycle.delete_draft(env, o, v))

    @router.get("/deliveries")
    async def deliveries() -> list[dict[str, Any]]:
        return list(env.dispatcher.deliveries)


def _auth_routes(router: APIRouter, env: Env, oauth: OAuthState) -> None:
    @router.post("/tokens/expire")
    async def expire_tokens(body: TokensIn) -> dict[str, int]:
        return {"expired": oauth.expire(body.organization_id, env.now())}

    @router.post("/tokens/revoke")
    async def revoke_tokens(body: TokensIn) -> dict[str, int]:
        revoked = oauth.revoke(body.organization_id)
        for org in list(env.store.orgs.values()):
            if body.organization_id in (None, org.id):
                env.dispatcher.emit(org, "token.revoked", org.connection_id)
        return {"revoked": revoked}

    @router.post("/apps", status_code=201)
    async def register_app(body: AppIn) -> dict[str, str]:
        app = oauth.register(body.name, body.redirect_uri, body.client_id)
        return {
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "redirect_uri": app.redirect_uri,
        }

    @router.get("/callback")
    async def oauth_echo(
        code: str | None = None, state: str | None = None, error: str | None = None
    ) -> dict[str, str | None]:
        """Redirect target of the demo test app: shows what the app would receive."""
        return {"code": code, "state": state, "error": error}


def build_control_router(
    env: Env, oauth: OAuthState, buckets: TokenBuckets, public_pem: Callable[[], str]
) -> APIRouter:
    router = APIRouter(tags=["lexware-control"])
    _org_routes(router, env)
    _voucher_routes(router, env)
    _auth_routes(router, env, oauth)

    @router.post("/rate-limit/reset", status_code=204)
    async def reset_rate_limit() -> None:
        buckets.reset()

    @router.get("/rate-limit")
    async def rate_limit() -> dict[str, Any]:
        """How many 429s were served since the last reset (callers are keyed by their
        tokens, so only the sum is shown)."""
        return {"rate_limited": sum(buckets.refused.values())}

    @router.get("/public-key", response_class=PlainTextResponse)
    async def public_key() -> str:
        return public_pem()

    return router
