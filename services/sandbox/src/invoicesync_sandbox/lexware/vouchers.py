"""``/v1/invoices``, ``/v1/credit-notes`` and ``/v1/payments`` (the list: ``voucherlist``;
rendered documents download through ``files``).

A voucher is a draft without number unless created with ``finalize=true``; then it is
open and takes the next number of its range (RE0001…, GS0001…).
"""

# No postponed annotations here: FastAPI must resolve the local ``CallerDep`` alias.

import copy
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from invoicesync_sandbox.lexware import lifecycle, payload
from invoicesync_sandbox.lexware.auth import Caller
from invoicesync_sandbox.lexware.env import Env
from invoicesync_sandbox.lexware.errors import (
    LexwareError,
    Violation,
    bad_request,
    not_found,
    validation_error,
)
from invoicesync_sandbox.lexware.store import Organisation, Voucher, iso, new_id
from invoicesync_sandbox.visibility import is_visible, visible


def _readable(org: Organisation, now: float) -> list[Voucher]:
    """The vouchers a read may see at sandbox time ``now`` (a late-visible write is not)."""
    return visible(list(org.vouchers.values()), now)


def _related(org: Organisation, voucher: Voucher, now: float) -> list[dict[str, Any]]:
    linked = [
        v
        for v in _readable(org, now)
        if v.id == voucher.preceding_id or v.preceding_id == voucher.id
    ]
    return [
        {"id": v.id, "voucherNumber": v.number, "voucherType": lifecycle.LIST_TYPE[v.kind]}
        for v in linked
    ]


def voucher_view(org: Organisation, voucher: Voucher, now: float) -> dict[str, Any]:
    data = copy.deepcopy(voucher.data)
    view: dict[str, Any] = {
        "id": voucher.id,
        "organizationId": voucher.organization_id,
        "createdDate": iso(voucher.created),
        "updatedDate": iso(voucher.updated),
        "version": voucher.version,
        "language": data.pop("language", "de"),
        "archived": data.pop("archived", False),
        "voucherStatus": voucher.status,
    }
    if voucher.number:
        view["voucherNumber"] = voucher.number
    view.update(data)
    view["dueDate"] = lifecycle.due_date(voucher)
    view["relatedVouchers"] = _related(org, voucher, now)
    if voucher.document_file_id:
        view["files"] = {"documentFileId": voucher.document_file_id}
    return view


def _preceding(org: Organisation, voucher_id: str | None) -> str | None:
    if voucher_id is None:
        return None
    found = org.vouchers.get(voucher_id)
    if found is None or found.kind != "invoice":
        raise validation_error(
            [Violation("precedingSalesVoucherId", "NOTVALID", "no such invoice")]
        )
    return voucher_id


def _get(org: Organisation, kind: str, voucher_id: str, now: float) -> Voucher:
    voucher = org.vouchers.get(voucher_id)
    if voucher is None or voucher.kind != kind or not is_visible(voucher, now):
        raise not_found(kind.replace("-", " "))
    return voucher


def _create(
    env: Env,
    org: Organisation,
    kind: str,
    body: dict[str, Any],
    finalize: bool,
    preceding: str | None,
) -> Voucher:
    payload.validate(body, org)
    now = env.now()
    with env.store.lock:
        voucher = Voucher(
            new_id(),
            org.id,
            kind,
            payload.with_totals(body, org),
            now,
            now,
            preceding_id=_preceding(org, preceding),
        )
        if finalize:
            voucher.status = "open"
            voucher.number = org.next_voucher_number(kind)
        org.vouchers[voucher.id] = voucher
    env.dispatcher.emit(org, f"{kind}.created", voucher.id)
    return voucher


def _register_kind(router: APIRouter, env: Env, kind: str) -> None:
    CallerDep = Annotated[Caller, Depends(env.caller)]

    @router.post(f"/v1/{kind}s", status_code=201, name=f"create_{kind}")
    async def create(
        caller: CallerDep,
        body: Annotated[dict[str, Any], Body()],
        finalize: bool = False,
        precedingSalesVoucherId: str | None = None,
    ) -> dict[str, Any]:
        if kind == "invoice" and precedingSalesVoucherId:
            raise bad_request("precedingSalesVoucherId is only allowed for credit notes.")
        v = _create(env, caller.org, kind, body, finalize, precedingSalesVoucherId)
        return env.action_result(f"{kind}s", v.id, v.created, v.updated, v.version)

    @router.get(f"/v1/{kind}s/{{voucher_id}}", name=f"get_{kind}")
    async def get_one(caller: CallerDep, voucher_id: str) -> dict[str, Any]:
        now = env.now()
        return voucher_view(caller.org, _get(caller.org, kind, voucher_id, now), now)

    @router.get(f"/v1/{kind}s/{{voucher_id}}/document", name=f"document_{kind}")
    async def document(caller: CallerDep, voucher_id: str) -> dict[str, Any]:
        voucher = _get(caller.org, kind, voucher_id, env.now())
        if voucher.status == "draft":
            raise LexwareError(
                406,
                "Rendering a document is not possible for drafts.",
                [Violation("voucherStatus", "NOTVALID", "voucher is a draft")],
            )
        with env.store.lock:
            voucher.document_file_id = voucher.document_file_id or new_id()
        return {"documentFileId": voucher.document_file_id}


def register(router: APIRouter, env: Env) -> None:
    for kind in ("invoice", "credit-note"):
        _register_kind(router, env, kind)
    CallerDep = Annotated[Caller, Depends(env.caller)]

    @router.get("/v1/payments/{voucher_id}")
    async def payments(caller: CallerDep, voucher_id: str) -> dict[str, Any]:
        voucher = caller.org.vouchers.get(voucher_id)
        if voucher is None or not is_visible(voucher, env.now()):
            raise not_found("voucher")
        return lifecycle.payment_view(voucher)
