"""Exact's quirks in pure functions: padded codes, OData literals, signs, error decisions."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connector_exact import errors, mapping
from invoicesync_api.db.models import Client
from invoicesync_shared.connectors.errors import (
    AuthorizationLost,
    PermanentError,
    RateLimited,
    TransientError,
    UnknownOutcome,
)
from invoicesync_shared.connectors.provenance import marker, marker_in
from invoicesync_shared.events.documents import Address, CustomerData, DocumentSnapshot
from tests.support.factories import snapshot


def _client() -> Client:
    return Client(id=uuid.uuid4(), partner_id=uuid.uuid4(), name="c")


def _one_line_entry(document: DocumentSnapshot, **given: Any) -> dict[str, Any]:
    """The entry of a one-line ``document`` under its own number in sales journal 70 for
    customer account ``c``; ``given`` overrides any of those."""
    arguments: dict[str, Any] = {
        "reference": document.number,
        "journal": "70",
        "party_id": "c",
        "gl_account_ids": ["gl"],
        "vat_codes": ["2  "],
        **given,
    }
    return mapping.entry_payload(document, **arguments)


def test_numeric_customer_code_is_padded_to_18_and_quotes_are_doubled() -> None:
    customer = CustomerData(external_id="42", name="O'Brien", vat_number="NL1")
    filters = mapping.account_filters(customer)
    assert filters[0] == "Code eq '                42'"
    assert filters[-1] == "Status ne 'A' and Name eq 'O''Brien'"


def test_credit_note_is_type_21_with_negative_amounts() -> None:
    document = snapshot(_client(), "CN-1", kind="credit_note")
    payload = _one_line_entry(document)
    assert payload["Type"] == 21
    assert payload["SalesEntryLines"][0]["AmountFC"] == "-100.00"
    assert payload["SalesEntryLines"][0]["VATAmountFC"] == "-21.00"


@pytest.mark.parametrize(
    ("kind", "entry_type", "sign", "title"),
    [
        ("purchase_invoice", 30, "", "Purchase invoice"),
        ("receipt", 30, "", "Receipt"),
        ("purchase_credit_note", 31, "-", "Purchase credit note"),
    ],
)
def test_purchase_documents_are_purchase_entries_of_their_supplier_with_the_document(
    kind: str, entry_type: int, sign: str, title: str
) -> None:
    document = snapshot(_client(), "AP-1", kind=kind)
    payload = _one_line_entry(document, journal="60", party_id="s", attachment="doc-1")
    assert (payload["Type"], payload["Journal"], payload["Supplier"]) == (entry_type, "60", "s")
    assert payload["Document"] == "doc-1"
    assert "Customer" not in payload and "SalesEntryLines" not in payload
    assert payload["Description"].startswith(f"{title} AP-1")
    [line] = payload["PurchaseEntryLines"]
    assert (line["AmountFC"], line["VATAmountFC"]) == (f"{sign}100.00", f"{sign}21.00")
    assert mapping.signed_total(f"{sign}121.00", kind) == Decimal("121.00")


def test_a_supplier_is_matched_among_suppliers_and_created_as_one_without_our_code() -> None:
    supplier = CustomerData(external_id="42", name="Acme", vat_number="NL1")
    # Never by code: an account's code is our customer's id, and customer 42 made a
    # supplier too in Exact is not our supplier 42.
    assert mapping.account_filters(supplier, supplier=True) == [
        "IsSupplier eq true and VATNumber eq 'NL1'",
        "IsSupplier eq true and Name eq 'Acme'",
    ]
    assert mapping.account_payload(supplier, supplier=True) == {
        "Name": "Acme",
        "Status": "A",
        "IsSales": False,
        "IsSupplier": True,
        "VATNumber": "NL1",
        "Remarks": "invoicesync supplier 42",
    }


def test_a_purchase_file_is_filed_as_a_purchase_document_with_its_bytes_in_base64() -> None:
    document = snapshot(_client(), "AP-9", kind="receipt")
    filed = mapping.document_payload(document, "s")
    assert filed == {
        "Subject": f"Receipt AP-9 {marker(document.id)}",
        "Type": mapping.PURCHASE_INVOICE_DOCUMENT,
        "Account": "s",
        "DocumentDate": "2026-11-20T00:00:00Z",
    }
    attached = mapping.attachment_payload("d", "AP-9.pdf", b"%PDF\x00\xff")
    assert attached == {"Document": "d", "FileName": "AP-9.pdf", "Attachment": "JVBERgD/"}


def test_vat_rate_percent_to_exact_fraction() -> None:
    assert mapping.vat_percentage(Decimal("21")) == Decimal("0.2100")


def test_classify_decides_by_status_and_kind_of_call() -> None:
    request = httpx.Request("POST", "https://exact/api")
    assert isinstance(
        errors.classify(
            httpx.Response(429, headers={"Retry-After": "2"}, request=request), is_write=True
        ),
        RateLimited,  # what the pacing checks the day on
    )
    assert isinstance(
        errors.classify(httpx.Response(503, request=request), is_write=True), UnknownOutcome
    )
    assert isinstance(
        errors.classify(httpx.Response(503, request=request), is_write=False), TransientError
    )
    body = {"error": {"code": "", "message": {"lang": "", "value": "Invalid reference: Journal"}}}
    refused = errors.classify(httpx.Response(400, json=body, request=request), is_write=True)
    assert isinstance(refused, PermanentError) and refused.code == "journal_missing"
    blocked = errors.classify(
        httpx.Response(403, headers={"Reason": "DivisionBlocked"}, request=request), is_write=False
    )
    assert isinstance(blocked, PermanentError) and not isinstance(blocked, AuthorizationLost)
    assert errors.classify(httpx.Response(201, request=request), is_write=True) is None


def test_a_division_out_of_reach_is_a_lost_connection_naming_the_division() -> None:
    """By Exact's ``Reason`` header, or by its text when the division is outside the
    companies the user allowed the app (division scoping); a 401 is not one of them."""
    request = httpx.Request("POST", "https://exact/api")
    header = httpx.Response(403, headers={"Reason": "NoDivisionAccess"}, request=request)
    body = {
        "error": {"message": {"value": "Forbidden - User division is not within division scope"}}
    }
    scoped = httpx.Response(403, json=body, request=request)
    for response in (header, scoped):
        lost = errors.classify(response, is_write=True, division=4711)
        assert isinstance(lost, AuthorizationLost)
        assert (lost.reason, lost.status) == ("division_access_withdrawn", "needs_reauthorization")
        assert "division 4711" in lost.message and "reconnect" in lost.message
    expired = errors.classify(httpx.Response(401, request=request), is_write=False, division=4711)
    assert not isinstance(expired, AuthorizationLost)


def test_exact_counts_its_errors_towards_the_block_but_not_a_429() -> None:
    counted = [s for s in (200, 400, 401, 403, 404, 429, 500, 503) if _counts(s)]
    assert counted == [400, 401, 403, 404]
    # A refused grant (the shared client's 401 after a refresh) counts too.
    assert errors.counts_towards_block(AuthorizationLost("refused"))


def _counts(status: int) -> bool:
    """From the decision on the answer, as the pacing sees it (a read and a write)."""
    request = httpx.Request("GET", "https://exact/api")
    decided = [
        errors.classify(httpx.Response(status, request=request), is_write=is_write)
        for is_write in (False, True)
    ]
    assert errors.counts_towards_block(decided[0]) == errors.counts_towards_block(decided[1])
    return errors.counts_towards_block(decided[0])


def _two_line_invoice(kind: str = "invoice") -> DocumentSnapshot:
    """An invoice with a due date, a long line description and one line with a cost centre."""
    document = snapshot(_client(), "2026-0042", kind=kind)
    long_line = document.lines[0].model_copy(
        update={
            "description": "Consulting " * 10,
            "quantity": Decimal("2.5"),
            "net_amount": Decimal("250.00"),
            "vat_amount": Decimal("52.50"),
            "cost_centre": "CC-7",
        }
    )
    return document.model_copy(
        update={"lines": [long_line, document.lines[0]], "due_date": date(2026, 12, 20)}
    )


def _two_line_entry(document: DocumentSnapshot) -> dict[str, Any]:
    return mapping.entry_payload(
        document,
        reference=document.number,
        journal="70",
        party_id="acct-1",
        gl_account_ids=["gl-a", "gl-b"],
        vat_codes=["2  ", "3  "],
    )


def test_sales_entry_carries_the_document_its_journal_customer_and_lines_in_order() -> None:
    document = _two_line_invoice()
    payload = _two_line_entry(document)
    assert payload["Journal"] == "70" and payload["Customer"] == "acct-1"
    assert payload["YourRef"] == document.number
    assert payload["Type"] == mapping.SALES_ENTRY and payload["Currency"] == document.currency
    assert payload["EntryDate"] == f"{document.issue_date.isoformat()}T00:00:00Z"
    assert payload["DueDate"] == "2026-12-20T00:00:00Z"  # the due date _two_line_invoice sets
    description = payload["Description"]
    assert description.startswith(f"Invoice {document.number} ")
    assert len(description) <= mapping.DESCRIPTION_LENGTH
    assert marker_in(description) == marker(document.id)
    first, second = payload["SalesEntryLines"]
    assert (first["GLAccount"], first["VATCode"]) == ("gl-a", "2  ")
    assert (second["GLAccount"], second["VATCode"]) == ("gl-b", "3  ")
    source = document.lines[0]
    assert Decimal(first["AmountFC"]) == source.net_amount
    assert Decimal(first["VATAmountFC"]) == source.vat_amount
    assert Decimal(first["Quantity"]) == source.quantity
    assert first["Description"] == source.description[:60]
    assert first["CostCenter"] == source.cost_centre
    assert "CostCenter" not in second


def test_credit_note_entry_is_described_as_one_and_keeps_its_quantity_positive() -> None:
    document = _two_line_invoice(kind="credit_note")
    payload = _two_line_entry(document)
    assert payload["Description"].startswith(f"Credit note {document.number} ")
    for line, source in zip(payload["SalesEntryLines"], document.lines, strict=True):
        assert Decimal(line["AmountFC"]) == -source.net_amount
        assert Decimal(line["VATAmountFC"]) == -source.vat_amount
        assert Decimal(line["Quantity"]) == source.quantity


def test_entry_without_a_due_date_leaves_it_to_exact() -> None:
    document = snapshot(_client(), "INV-1")
    payload = _one_line_entry(document)
    assert "DueDate" not in payload


def test_new_account_is_a_sales_customer_with_the_known_details_only() -> None:
    address = Address(street="Keizersgracht", house_number="12", postal_code="1015", city="A")
    customer = CustomerData(
        external_id="1042",
        name="N" * 120,
        vat_number="NL001",
        company_number="KVK1",
        email="ap@example.com",
        address=address.model_copy(update={"country": "NL"}),
    )
    payload = mapping.account_payload(customer)
    assert payload["Name"] == customer.name[:100]
    assert payload["Status"] == "C" and payload["IsSales"] is True
    assert payload["Code"] == customer.external_id
    assert (payload["VATNumber"], payload["ChamberOfCommerce"]) == ("NL001", "KVK1")
    assert payload["Email"] == "ap@example.com"
    assert payload["Country"] == "NL"  # from the address when the customer has none
    assert payload["AddressLine1"] == "Keizersgracht 12"
    assert (payload["Postcode"], payload["City"]) == ("1015", "A")

    bare = mapping.account_payload(CustomerData(external_id="ext-7", name="Bare", country="BE"))
    assert bare == {
        "Name": "Bare",
        "Status": "C",
        "IsSales": True,
        "Country": "BE",
        "Remarks": "invoicesync customer ext-7",
    }


def test_account_code_only_for_numeric_ids_that_fit_exacts_code() -> None:
    for external_id in ("A-1", "1" * (mapping.CODE_WIDTH + 1)):
        payload = mapping.account_payload(CustomerData(external_id=external_id, name="n"))
        assert "Code" not in payload
        filters = mapping.account_filters(CustomerData(external_id=external_id, name="n"))
        assert not any("Code eq" in f for f in filters)
    widest = CustomerData(external_id="1" * mapping.CODE_WIDTH, name="n")
    assert mapping.account_payload(widest)["Code"] == widest.external_id
    assert mapping.account_filters(widest)[0] == f"Code eq '{widest.external_id}'"


def test_account_filters_go_from_code_to_vat_to_company_number_to_name() -> None:
    customer = CustomerData(external_id="42", name="Acme", vat_number="NL1", company_number="K1")
    assert mapping.account_filters(customer) == [
        f"Code eq '{mapping.padded_code('42')}'",
        "Status ne 'A' and VATNumber eq 'NL1'",
        "Status ne 'A' and ChamberOfCommerce eq 'K1'",
        "Status ne 'A' and Name eq 'Acme'",
    ]
    assert "Code" not in mapping.account_payload(customer, with_code=False)
    assert mapping.is_customer({"Status": "P"}) and not mapping.is_customer({"Status": "A"})
    street_only = mapping.account_payload(
        CustomerData(external_id="x", name="n", address=Address(city="Utrecht"))
    )
    assert "AddressLine1" not in street_only and street_only["City"] == "Utrecht"


def test_odata_dates_are_read_in_both_of_exacts_forms() -> None:
    day = date(2026, 11, 20)
    millis = int(datetime(2026, 11, 20, 23, 30, tzinfo=UTC).timestamp() * 1000)
    assert mapping.odata_date(f"/Date({millis})/") == day
    assert mapping.odata_date(f"{day.isoformat()}T00:00:00") == day
    assert mapping.odata_date("/Date(-86400000)/") == date(1969, 12, 31)
    for unreadable in (None, "", "soon", "/Date(12)/x"):
        assert mapping.odata_date(unreadable) is None


def test_header_totals_are_positive_for_both_kinds() -> None:
    assert mapping.signed_total("121.00", "invoice") == Decimal("121.00")
    assert mapping.signed_total(-121.5, "credit_note") == Decimal("121.5")
    assert mapping.signed_total(None, "credit_note") is None


def test_amounts_and_quantities_go_out_in_plain_decimal_notation() -> None:
    """Decimals that print in exponent notation (a free line's ``0E-7``) are sent as plain
    numbers all the same."""
    document = snapshot(_client(), "INV-0")
    free = document.lines[0].model_copy(
        update={
            "quantity": Decimal("1E+1"),
            "net_amount": Decimal("0E-7"),
            "vat_amount": Decimal("0.00000001"),
        }
    )
    payload = _one_line_entry(document.model_copy(update={"lines": [free]}))
    (line,) = payload["SalesEntryLines"]
    for field, value in (("Quantity", "10"), ("AmountFC", "0.0000000"), ("VATAmountFC", None)):
        assert "E" not in line[field].upper()
        if value is not None:
            assert line[field] == value
    assert Decimal(line["VATAmountFC"]) == free.vat_amount


def test_every_line_needs_its_gl_account_and_vat_code() -> None:
    document = _two_line_invoice()
    with pytest.raises(ValueError):
        mapping.entry_payload(
            document,
            reference=document.number,
            journal="70",
            party_id="c",
            gl_account_ids=["gl-a"],
            vat_codes=["2  ", "3  "],
        )


def test_odata_dates_do_not_depend_on_the_servers_time_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Exact's ``/Date(ms)/`` is UTC; read on a server far east of it, it is the same day."""
    millis = int(datetime(2026, 11, 20, 23, 30, tzinfo=UTC).timestamp() * 1000)
    monkeypatch.setenv("TZ", "<+14>-14")  # POSIX form: UTC+14, no tz database needed
    time.tzset()
    try:
        assert mapping.odata_date(f"/Date({millis})/") == date(2026, 11, 20)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_long_file_name_and_subject_are_cut_to_exacts_lengths_keeping_the_marker() -> None:
    """Exact's FileName takes 250 characters and the document's Subject 200 (the sandbox
    refuses more); the Subject keeps our marker whole, so a retry still finds it."""
    document = snapshot(_client(), "N" * 300, kind="purchase_invoice")
    subject = mapping.document_payload(document, "s")["Subject"]
    assert len(subject) == 200 and marker_in(subject) == marker(document.id)
    attachment = mapping.attachment_payload("d", "f" * 300 + ".pdf", b"%PDF")
    assert attachment["FileName"] == "f" * 250


def test_a_long_name_is_looked_for_as_the_account_holds_it() -> None:
    """An account keeps 100 characters of the name: the match asks for those, so the
    account made before a lost answer is found, not made a second time."""
    customer = CustomerData(external_id="x", name="L" * 150)
    payload = mapping.account_payload(customer)
    assert payload["Name"] == "L" * 100
    assert mapping.account_filters(customer)[-1].endswith(f"Name eq '{payload['Name']}'")


def test_an_account_we_made_for_another_relation_is_told_by_its_remarks() -> None:
    """Exact numbers an account we make without a code; its Remarks say whose it is, so
    a customer whose id that number happens to be does not take it."""
    ours = CustomerData(external_id="7", name="Seven")
    made = mapping.account_payload(CustomerData(external_id="sup-9", name="S"), supplier=True)
    assert mapping.made_for_another(made, ours)
    other = mapping.account_payload(CustomerData(external_id="6", name="Six"), with_code=False)
    assert mapping.made_for_another(other, ours)
    assert not mapping.made_for_another(mapping.account_payload(ours), ours)
    assert not mapping.made_for_another({"Remarks": "typed by a bookkeeper"}, ours)
    assert not mapping.made_for_another({"Remarks": None}, ours)
