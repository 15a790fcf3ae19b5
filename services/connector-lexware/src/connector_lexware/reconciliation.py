"""A period's vouchers for a reconciliation, read the cheapest way Lexware allows.

``voucherlist`` pages (250 rows a call) give every voucher's id, number, date, status,
contact name and gross total. A voucher is opened (one call) only where the list cannot
say enough: one our ledger does not know (is our reference in it, or was it typed by
hand?), or every one when the reconciliation asks for VAT per rate (``detailed``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

from connector_lexware import mapping
from connector_lexware.client import LexwareClient
from invoicesync_shared.connectors.ledger import Ledger
from invoicesync_shared.connectors.provenance import document_id_of, marker_in
from invoicesync_shared.connectors.reconciliation import Period
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.reconciliations import RemoteEntry
from invoicesync_shared.integration_settings import LexwareSettings

LIST_PARAMS = {"voucherType": mapping.LIST_TYPES, "voucherStatus": mapping.EVERY_STATUS}
PAID = frozenset({"paid", "paidoff"})
MAX_PAGES = 400  # 100,000 vouchers: a period larger than that is refused, not half read


async def read_entries(
    client: LexwareClient,
    integration: Integration,
    settings: LexwareSettings,
    period: Period,
    ledger: Ledger,
    *,
    detailed: bool = False,
) -> AsyncIterator[list[RemoteEntry]]:
    scope = mapping.scope_of(integration.id, settings)
    params = {
        **LIST_PARAMS,
        # Narrowing filters of the real API; rows are checked here all the same.
        "voucherDateFrom": period.start.isoformat(),
        "voucherDateTo": period.end.isoformat(),
    }
    for number in range(MAX_PAGES):
        rows, last = await client.page(integration.id, scope, "v1/voucherlist", params, number)
        inside = [r for r in rows if period.holds(mapping.voucher_day(r))]
        known = await ledger.documents_of(integration.id, [str(r["id"]) for r in inside])
        page: list[RemoteEntry] = []
        for row in inside:
            ours = known.get(str(row["id"]))
            voucher = None
            if ours is None or detailed:
                path = f"{_path(row)}/{row['id']}"
                voucher = await client.get(integration.id, scope, path)
            page.append(_entry(row, voucher, ours))
        yield page
        # Pages come newest voucher date first: past the period, nothing more to find.
        if last or not rows or _day(rows[-1]) < period.start:
            return


def _path(row: dict[str, Any]) -> str:
    return mapping.voucher_path(_kind(row))


def _kind(row: dict[str, Any]) -> str:
    return "credit_note" if row.get("voucherType") == "creditnote" else "invoice"


def _day(row: dict[str, Any]) -> date:
    return mapping.voucher_day(row) or date.min


def _entry(
    row: dict[str, Any], voucher: dict[str, Any] | None, ours: tuple[Any, str] | None
) -> RemoteEntry:
    status = str(row.get("voucherStatus") or "")
    entry: dict[str, Any] = {
        "remote_id": str(row["id"]),
        "kind": _kind(row),
        "number": row.get("voucherNumber") or None,
        "date": mapping.voucher_day(row),
        "customer": row.get("contactName") or None,
        "gross": Decimal(str(row.get("totalAmount") or 0)),
        "paid": status in PAID,
        "status": status,
    }
    if ours is not None:
        entry["document_id"], entry["reference"] = ours
    if voucher is not None:
        entry.update(_details(voucher, entry["reference"] if ours else None))
    return RemoteEntry.model_validate(entry)


def _details(voucher: dict[str, Any], reference: str | None) -> dict[str, Any]:
    """What only the voucher says: our reference and marker (introduction), the net and
    the VAT per rate, the customer's name as printed."""
    found: dict[str, Any] = {"detailed": True}
    if reference is None:
        found["reference"] = mapping.reference_in(voucher)
    mark = marker_in(voucher.get("introduction"))
    if mark is not None:
        found["document_id"] = document_id_of(mark)
    total = voucher.get("totalPrice") or {}
    if total.get("totalNetAmount") is not None:
        found["net"] = Decimal(str(total["totalNetAmount"]))
    found["vat"] = {
        _rate(t.get("taxRatePercentage")): Decimal(str(t.get("taxAmount") or 0))
        for t in voucher.get("taxAmounts") or []
    }
    name = (voucher.get("address") or {}).get("name")
    if name:
        found["customer"] = name
    return found


def _rate(value: Any) -> str:
    return format(Decimal(str(value or 0)).normalize(), "f")
