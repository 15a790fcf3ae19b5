"""What a Lexware user does to a voucher in the app: finalise, record payment, void, delete.

Each step changes status and version and fires the callbacks Lexware would send.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from invoicesync_sandbox.lexware import payload
from invoicesync_sandbox.lexware.env import Env
from invoicesync_sandbox.lexware.store import Organisation, Voucher, iso

LIST_TYPE = {
    "invoice": "invoice",
    "credit-note": "creditnote",
    # Bookkeeping vouchers (``/v1/vouchers``) list under their own type.
    "salesinvoice": "salesinvoice",
    "salescreditnote": "salescreditnote",
    "purchaseinvoice": "purchaseinvoice",
    "purchasecreditnote": "purchasecreditnote",
}
PAID_STATUS = {
    "invoice": "paid",
    "credit-note": "paidoff",
    "salesinvoice": "paid",
    "salescreditnote": "paidoff",
    "purchaseinvoice": "paid",
    "purchasecreditnote": "paidoff",
}
OPEN_STATUSES = frozenset({"open", "overdue"})
# Kinds whose open amount is owed to the organisation (the others: owed by it).
REVENUE_KINDS = frozenset({"invoice", "salesinvoice", "purchasecreditnote"})


class TransitionError(Exception):
    """The voucher is not in a state that allows the step."""


def find_voucher(env: Env, voucher_id: str) -> tuple[Organisation, Voucher] | None:
    for org in list(env.store.orgs.values()):
        voucher = org.vouchers.get(voucher_id)
        if voucher is not None:
            return org, voucher
    return None


def _touch(env: Env, voucher: Voucher) -> None:
    voucher.version += 1
    voucher.updated = env.now()


def _status_changed(env: Env, org: Organisation, voucher: Voucher) -> None:
    # Bookkeeping vouchers (purchase and sales kinds) share Lexware's ``voucher.*`` events.
    resource = voucher.kind if voucher.kind in ("invoice", "credit-note") else "voucher"
    env.dispatcher.emit(org, f"{resource}.status.changed", voucher.id)


def finalize(env: Env, org: Organisation, voucher: Voucher) -> None:
    """Draft → open with the next number of its range."""
    with env.store.lock:
        if voucher.status != "draft":
            raise TransitionError(f"only drafts can be finalised (status {voucher.status})")
        voucher.status = "open"
        voucher.number = org.next_voucher_number(voucher.kind)
        _touch(env, voucher)
    _status_changed(env, org, voucher)


def mark_paid(env: Env, org: Organisation, voucher: Voucher, paid_at: float | None = None) -> None:
    """Open → paid (invoices) or paidoff (credit notes), as a bank match would do."""
    with env.store.lock:
        if voucher.status not in OPEN_STATUSES:
            raise TransitionError(f"only open vouchers can be paid (status {voucher.status})")
        voucher.status = PAID_STATUS[voucher.kind]
        voucher.paid_date = paid_at or env.now()
        _touch(env, voucher)
    _status_changed(env, org, voucher)
    env.dispatcher.emit(org, "payment.changed", voucher.id)


def void(env: Env, org: Organisation, voucher: Voucher) -> None:
    """Open → voided (Lexware's "stornieren")."""
    with env.store.lock:
        if voucher.status not in OPEN_STATUSES:
            raise TransitionError(f"only open vouchers can be voided (status {voucher.status})")
        voucher.status = "voided"
        _touch(env, voucher)
    _status_changed(env, org, voucher)


def delete_draft(env: Env, org: Organisation, voucher: Voucher) -> None:
    with env.store.lock:
        if voucher.status != "draft":
            raise TransitionError("only drafts can be deleted")
        del org.vouchers[voucher.id]
    env.dispatcher.emit(org, f"{voucher.kind}.deleted", voucher.id)


def edit_draft(env: Env, org: Organisation, voucher: Voucher, line: int, net_amount: float) -> None:
    """A person changes a draft's line price in the app (only drafts can be edited
    there); totals and VAT are computed again, as on a create."""
    with env.store.lock:
        if voucher.status != "draft":
            raise TransitionError("only drafts can be edited")
        items = [i for i in voucher.data["lineItems"] if i.get("type") != "text"]
        if not 0 <= line < len(items):
            raise TransitionError(f"the voucher has no line {line}")
        price = items[line]["unitPrice"]
        price.pop("grossAmount", None)
        price["netAmount"] = net_amount
        voucher.data = payload.with_totals(voucher.data, org)
        _touch(env, voucher)
    env.dispatcher.emit(org, f"{voucher.kind}.changed", voucher.id)


def due_date(voucher: Voucher) -> str:
    """The voucher date plus the payment term's days, as Lexware shows ``dueDate``
    (a bookkeeping voucher carries the ``dueDate`` its caller gave)."""
    if voucher.data.get("dueDate"):
        return str(voucher.data["dueDate"])
    start = datetime.fromisoformat(voucher.data["voucherDate"].replace("Z", "+00:00"))
    days = (voucher.data.get("paymentConditions") or {}).get("paymentTermDuration") or 0
    return (start + timedelta(days=int(days))).isoformat(timespec="milliseconds")


def open_amount(voucher: Voucher) -> float:
    if voucher.status in ("draft", "open", "overdue"):
        return voucher.gross_total()
    return 0.0


def payment_view(voucher: Voucher) -> dict[str, Any]:
    """``GET /v1/payments/{id}``: open amount and payment state of a voucher."""
    owed = open_amount(voucher)
    pending = "openRevenue" if voucher.kind in REVENUE_KINDS else "openExpense"
    items = []
    if voucher.paid_date is not None:
        sign = 1 if voucher.kind in REVENUE_KINDS else -1
        items.append(
            {
                "paymentItemType": "manualPayment",
                "postingDate": iso(voucher.paid_date),
                "amount": sign * voucher.gross_total(),
                "currency": "EUR",
            }
        )
    return {
        "openAmount": owed,
        "currency": "EUR",
        "paymentStatus": pending if owed else "balanced",
        "voucherType": LIST_TYPE[voucher.kind],
        "voucherStatus": voucher.status,
        "paidDate": iso(voucher.paid_date) if voucher.paid_date is not None else None,
        "paymentItems": items,
    }
