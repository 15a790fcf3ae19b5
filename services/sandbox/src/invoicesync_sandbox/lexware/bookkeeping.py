"""``/v1/vouchers``: bookkeeping vouchers (purchase and sales invoices and credit notes).

Unlike ``/v1/invoices`` these carry the caller's own ``voucherNumber`` and totals; Lexware
books them as given, so the sandbox checks strictly that the lines add up to the totals.

Documented (Lexware's voucher model): the four ``type``s, ``voucherNumber``, ``voucherDate``,
``dueDate``, ``totalGrossAmount``, ``totalTaxAmount``, ``taxType``, ``useCollectiveContact``
or ``contactId``, ``voucherItems[{amount, taxAmount, taxRatePercent, categoryId}]``,
``remark``, ``files`` (file ids), 201 with ``{id, resourceUri, createdDate, updatedDate,
version}``. **Unverified**, the sandbox's strict choice: that an item's ``categoryId`` must
be an outgo category for purchase kinds and an income one for sales kinds; that the contact
needs the vendor (purchase) or customer (sales) role; that totals and each line's tax must
agree to the cent (``net``: amounts are net, ``gross``: amounts include the tax); that
the ``voucherNumber`` is kept as sent, never renumbered (duplicates are not refused);
that there is no voucher type for a till receipt (our connector books one as a
``purchaseinvoice``). The outgo category ids are the sandbox's own (see ``masterdata``).
"""

# No postponed annotations here: FastAPI must resolve the local ``CallerDep`` alias.

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from invoicesync_sandbox.lexware import masterdata, payload
from invoicesync_sandbox.lexware.auth import Caller
from invoicesync_sandbox.lexware.env import Env
from invoicesync_sandbox.lexware.errors import Violation, not_found, validation_error
from invoicesync_sandbox.lexware.store import Organisation, Voucher, iso, new_id
from invoicesync_sandbox.visibility import is_visible

PURCHASE_KINDS = frozenset({"purchaseinvoice", "purchasecreditnote"})
SALES_KINDS = frozenset({"salesinvoice", "salescreditnote"})
KINDS = PURCHASE_KINDS | SALES_KINDS
TAX_TYPES = frozenset({"net", "gross"})
STATUSES = frozenset({"open", "unchecked"})
CENT = Decimal("0.01")
KEPT = ("voucherNumber", "voucherDate", "shippingDate", "dueDate", "taxType", "remark")


def _amount(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _is_day(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _categories() -> dict[str, str]:
    """Posting category id → its type (income/outgo)."""
    return {c["id"]: c["type"] for c in masterdata.posting_categories()}


def _contact(org: Organisation, kind: str, body: dict[str, Any]) -> list[Violation]:
    collective, contact_id = body.get("useCollectiveContact"), body.get("contactId")
    if bool(collective) == bool(contact_id):
        return [
            Violation("contactId", "NOTVALID", "exactly one of contactId or useCollectiveContact")
        ]
    if not contact_id:
        return []
    contact = org.contacts.get(str(contact_id))
    role = "vendor" if kind in PURCHASE_KINDS else "customer"
    if contact is None:
        return [Violation("contactId", "NOTVALID", "no such contact")]
    if role not in contact.data["roles"]:
        return [Violation("contactId", "NOTVALID", f"contact has no {role} role")]
    return []


def _item(i: int, item: Any, kind: str, tax_type: str) -> tuple[list[Violation], Decimal, Decimal]:
    where = f"voucherItems[{i}]"
    if not isinstance(item, dict):
        return [Violation(where, "NOTVALID", "must be an object")], Decimal(0), Decimal(0)
    problems = []
    amount, tax = _amount(item.get("amount")), _amount(item.get("taxAmount"))
    rate = _amount(item.get("taxRatePercent"))
    for name, value in (("amount", amount), ("taxAmount", tax), ("taxRatePercent", rate)):
        if value is None:
            problems.append(Violation(f"{where}.{name}", "NOTNULL", "must be a number"))
    if rate is not None and rate not in payload.TAX_RATES:
        problems.append(Violation(f"{where}.taxRatePercent", "NOTVALID", "unknown tax rate"))
    wanted = "outgo" if kind in PURCHASE_KINDS else "income"
    category = _categories().get(str(item.get("categoryId")))
    if category is None:
        problems.append(Violation(f"{where}.categoryId", "NOTVALID", "no such posting category"))
    elif category != wanted:
        problems.append(
            Violation(f"{where}.categoryId", "NOTVALID", f"must be an {wanted} posting category")
        )
    if amount is None or tax is None or rate is None or problems:
        return problems, Decimal(0), Decimal(0)
    base = amount if tax_type == "net" else amount - tax
    if abs(base * rate / 100 - tax) > CENT:
        problems.append(
            Violation(f"{where}.taxAmount", "NOTVALID", f"does not match {rate}% of the amount")
        )
    gross = amount + tax if tax_type == "net" else amount
    return problems, gross, tax


def _header(body: dict[str, Any]) -> list[Violation]:
    problems: list[Violation] = []
    if body.get("voucherStatus", "open") not in STATUSES:
        problems.append(Violation("voucherStatus", "NOTVALID", "open or unchecked"))
    if not isinstance(body.get("voucherNumber"), str) or not body["voucherNumber"].strip():
        problems.append(Violation("voucherNumber", "NOTNULL", "must not be empty"))
    if not _is_day(body.get("voucherDate")):
        problems.append(Violation("voucherDate", "NOTNULL", "must be a date"))
    if body.get("dueDate") is not None and not _is_day(body["dueDate"]):
        problems.append(Violation("dueDate", "NOTVALID", "must be a date"))
    if body.get("taxType") not in TAX_TYPES:
        problems.append(Violation("taxType", "NOTVALID", "net or gross"))
    return problems


def _totals(body: dict[str, Any], gross_sum: Decimal, tax_sum: Decimal) -> list[Violation]:
    """The stated totals against what the items add up to (to the cent)."""
    for name, summed in (("totalGrossAmount", gross_sum), ("totalTaxAmount", tax_sum)):
        stated = _amount(body.get(name))
        if stated is None:
            return [Violation(name, "NOTNULL", "must be a number")]
        if abs(stated - summed) > CENT / 2:
            return [Violation(name, "NOTVALID", f"items add up to {summed}")]
    return []


def validate(org: Organisation, body: dict[str, Any]) -> None:
    """Every problem of a create, one ``details[]`` entry each (406)."""
    kind = body.get("type")
    if kind not in KINDS:
        raise validation_error(
            [Violation("type", "NOTVALID", f"one of {', '.join(sorted(KINDS))}")]
        )
    problems = _header(body) + _contact(org, str(kind), body)
    items = body.get("voucherItems")
    if not isinstance(items, list) or not items:
        problems.append(Violation("voucherItems", "NOTNULL", "at least one item"))
        items = []
    gross_sum, tax_sum = Decimal(0), Decimal(0)
    for i, item in enumerate(items):
        item_problems, gross, tax = _item(i, item, str(kind), str(body.get("taxType")))
        problems += item_problems
        gross_sum, tax_sum = gross_sum + gross, tax_sum + tax
    if not problems:
        problems = _totals(body, gross_sum, tax_sum)
    if problems:
        raise validation_error(problems)


def _data(org: Organisation, body: dict[str, Any]) -> dict[str, Any]:
    """What is kept, plus the ``address``/``totalPrice`` the voucherlist reads."""
    data: dict[str, Any] = {k: body[k] for k in KEPT if body.get(k) is not None}
    contact = org.contacts.get(str(body.get("contactId")))
    company = (contact.data.get("company") or {}) if contact else {}
    data["useCollectiveContact"] = bool(body.get("useCollectiveContact"))
    data["address"] = {"contactId": body.get("contactId"), "name": company.get("name", "")}
    data["totalPrice"] = {
        "totalGrossAmount": float(body["totalGrossAmount"]),
        "totalTaxAmount": float(body["totalTaxAmount"]),
    }
    data["voucherItems"] = [
        {k: item[k] for k in ("amount", "taxAmount", "taxRatePercent", "categoryId")}
        for item in body["voucherItems"]
    ]
    return data


def view(voucher: Voucher) -> dict[str, Any]:
    data = voucher.data
    return {
        "id": voucher.id,
        "organizationId": voucher.organization_id,
        "type": voucher.kind,
        "voucherStatus": voucher.status,
        **{k: data[k] for k in KEPT if k in data},
        "totalGrossAmount": data["totalPrice"]["totalGrossAmount"],
        "totalTaxAmount": data["totalPrice"]["totalTaxAmount"],
        "useCollectiveContact": data["useCollectiveContact"],
        "contactId": data["address"]["contactId"],
        "voucherItems": list(data["voucherItems"]),
        "files": list(voucher.files),
        "createdDate": iso(voucher.created),
        "updatedDate": iso(voucher.updated),
        "version": voucher.version,
    }


def get(org: Organisation, voucher_id: str, now: float) -> Voucher:
    voucher = org.vouchers.get(voucher_id)
    if voucher is None or voucher.kind not in KINDS or not is_visible(voucher, now):
        raise not_found("voucher")
    return voucher


def register(router: APIRouter, env: Env) -> None:
    CallerDep = Annotated[Caller, Depends(env.caller)]

    @router.post("/v1/vouchers", status_code=201)
    async def create(caller: CallerDep, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        org = caller.org
        validate(org, body)
        now = env.now()
        with env.store.lock:
            voucher = Voucher(new_id(), org.id, body["type"], _data(org, body), now, now)
            voucher.status = body.get("voucherStatus", "open")
            voucher.number = body["voucherNumber"]
            org.vouchers[voucher.id] = voucher
        env.dispatcher.emit(org, "voucher.created", voucher.id)
        return env.action_result("vouchers", voucher.id, now, now, voucher.version)

    @router.get("/v1/vouchers/{voucher_id}")
    async def get_one(caller: CallerDep, voucher_id: str) -> dict[str, Any]:
        return view(get(caller.org, voucher_id, env.now()))
