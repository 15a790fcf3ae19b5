"""Purchase documents as Lexware bookkeeping vouchers, in pure functions: the voucher's
type, items per VAT rate, the posting category chosen, the file limits, the vendor
contact's role."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from connector_lexware import mapping, purchases
from connector_lexware.connector import LexwareConnector
from invoicesync_shared.connectors.provenance import marker
from invoicesync_shared.events.documents import DocumentFileRef, DocumentLine
from invoicesync_shared.states import FailureCode
from tests.integration.connectors.lexware_support import customer, document


def _line(net: str, rate: int, vat: str) -> DocumentLine:
    return DocumentLine(
        description="x",
        quantity=Decimal(1),
        unit_price=Decimal(net),
        vat_rate=Decimal(rate),
        net_amount=Decimal(net),
        vat_amount=Decimal(vat),
    )


def _bill(kind: str = "purchase_invoice", **overrides: Any) -> Any:
    lines = [_line("100.00", 19, "19.00"), _line("20.00", 7, "1.40"), _line("50.00", 19, "9.50")]
    values: dict[str, Any] = {
        "lines": lines,
        "net_total": Decimal("170.00"),
        "vat_total": Decimal("29.90"),
        "gross_total": Decimal("199.90"),
    }
    return document(uuid.uuid4(), " LIEF-1 ", kind=kind, **{**values, **overrides})


def test_one_item_per_rate_with_totals_and_our_remark() -> None:
    bill = _bill()
    payload = purchases.voucher_payload(bill, contact_id="c", category_id="k", reference="R-1")
    assert payload["type"] == "purchaseinvoice" and payload["voucherNumber"] == "LIEF-1"
    assert payload["voucherItems"] == [
        {"amount": 20.0, "taxAmount": 1.4, "taxRatePercent": 7, "categoryId": "k"},
        {"amount": 150.0, "taxAmount": 28.5, "taxRatePercent": 19, "categoryId": "k"},
    ]
    assert (payload["totalGrossAmount"], payload["totalTaxAmount"]) == (199.9, 29.9)
    assert payload["remark"].splitlines() == [mapping.reference_line("R-1"), marker(bill.id)]
    assert payload["contactId"] == "c" and payload["taxType"] == "net"
    assert payload["dueDate"] == mapping.voucher_date(bill.due_date)


def test_the_voucher_types_of_the_purchase_kinds() -> None:
    assert purchases.voucher_type("purchase_invoice") == "purchaseinvoice"
    assert purchases.voucher_type("receipt") == "purchaseinvoice"
    assert purchases.voucher_type("purchase_credit_note") == "purchasecreditnote"


def test_the_expense_category_a_purchase_is_booked_on() -> None:
    rows: list[dict[str, Any]] = [
        {"id": "in", "name": "Wareneingang", "type": "income"},
        {"id": "eu", "name": "EU", "type": "outgo", "contactRequired": True},
        {"id": "office", "name": "Bürobedarf", "type": "outgo"},
        {"id": "goods", "name": "Wareneinkauf", "type": "outgo"},
    ]
    assert purchases.purchase_category(rows) == "goods"
    assert purchases.purchase_category(rows[:3]) == "office"
    assert purchases.purchase_category(rows[:2]) is None


def test_lexware_declares_its_voucher_file_limits_for_the_runtime() -> None:
    """5 MB of PDF, JPEG or PNG (the runtime refuses anything else before the voucher is
    made: tests/integration/runtime/test_file_limits.py)."""

    def ref(content_type: Any, size: int) -> DocumentFileRef:
        return DocumentFileRef.model_construct(
            id=uuid.uuid4(), filename="a", content_type=content_type, size=size, sha256=""
        )

    assert LexwareConnector.file_limits is purchases.FILE_LIMITS
    limits = purchases.FILE_LIMITS
    assert limits.max_bytes == 5 * 1024 * 1024
    assert limits.refusal(ref("application/pdf", limits.max_bytes)) is None
    assert limits.refusal(ref("image/jpeg", 10)) is None
    too_big = limits.refusal(ref("image/png", limits.max_bytes + 1))
    assert too_big is not None and too_big.code == FailureCode.FILE_TOO_LARGE
    assert "Lexware Office" in too_big.message and "5 MB" in too_big.message
    tiff = limits.refusal(ref("image/tiff", 10))
    assert tiff is not None and tiff.code == FailureCode.UNSUPPORTED_FILE_TYPE
    assert "JPEG, PDF or PNG files only" in tiff.message


def test_a_supplier_is_searched_and_made_as_a_vendor() -> None:
    supplier = customer()
    assert mapping.contact_payload(supplier, "supplier")["roles"] == {"vendor": {}}
    assert all(s.get("vendor") == "true" for s in mapping.contact_searches(supplier, "supplier"))
    assert all("customer" not in s for s in mapping.contact_searches(supplier, "supplier"))
    row = {"roles": {"customer": {"number": 10001}, "vendor": {"number": 70001}}}
    assert mapping.customer_number(row, "supplier") == "70001"
    assert mapping.customer_number(row) == "10001"
