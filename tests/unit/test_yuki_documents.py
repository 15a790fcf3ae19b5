"""The SalesInvoice XML we build is valid against the sandbox's SalesInvoices.xsd, maps
VAT, GL accounts and credit notes as Yuki expects, and Yuki's answers read back."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from lxml import etree

from connector_yuki import documents, errors
from connector_yuki.documents import InvoiceResult
from invoicesync_sandbox.yuki.schema import validation_errors
from invoicesync_shared.connectors.errors import PermanentError
from invoicesync_shared.connectors.provenance import marker
from invoicesync_shared.events.documents import (
    Address,
    CustomerData,
    DocumentLine,
    DocumentSnapshot,
)

NS = {"y": documents.SALES_NS}


def line(rate: str = "21", gl_account: str | None = None, price: str = "100.00") -> DocumentLine:
    net = Decimal(price) * 2
    return DocumentLine(
        description="Consulting\x07 hours",
        quantity=Decimal(2),
        unit_price=Decimal(price),
        vat_rate=Decimal(rate),
        net_amount=net,
        vat_amount=(net * Decimal(rate) / 100).quantize(Decimal("0.01")),
        gl_account=gl_account,
    )


def snapshot(
    *lines: DocumentLine, kind: str = "invoice", number: str = "INV-1"
) -> DocumentSnapshot:
    return DocumentSnapshot.model_validate(
        {
            "id": uuid.uuid4(),
            "partner_id": uuid.uuid4(),
            "client_id": uuid.uuid4(),
            "kind": kind,
            "external_id": "ext-1",
            "number": number,
            "issue_date": date(2024, 3, 1),
            "due_date": date(2024, 3, 31),
            "currency": "eur",
            "customer": CustomerData(
                external_id="C001",
                name="Jan Jansen",
                is_person=True,
                vat_number="NL123456789B01",
                company_number="12345678",
                email="jan@example.nl",
                address=Address(
                    street="Dam",
                    house_number="1",
                    postal_code="1012 JS",
                    city="Amsterdam",
                    country="nl",
                ),
            ),
            "lines": list(lines or [line()]),
            "net_total": "200.00",
            "vat_total": "42.00",
            "gross_total": "242.00",
        }
    )


def build(doc: DocumentSnapshot, default_gl: str | None = None) -> tuple[bytes, etree._Element]:
    raw = documents.sales_invoices(
        [documents.sales_invoice(doc, reference=doc.number, default_gl_account=default_gl)]
    )
    return raw, etree.fromstring(raw)


def texts(root: etree._Element, path: str) -> list[str]:
    return [e.text or "" for e in root.findall(path, NS)]


def test_an_invoice_is_schema_valid_and_carries_reference_contact_and_lines() -> None:
    """Valid against the schema's sequences: every element we fill in its place (real Yuki
    rejects the whole batch on a schema error)."""
    raw, root = build(snapshot(line("21"), line("9", gl_account="8200"), line("0")), "8100")
    assert validation_errors(raw) == []
    filled = [etree.QName(e).localname for e in root.find("y:SalesInvoice/y:Contact", NS)]
    assert {"City", "Zipcode", "EmailAddress", "CoCNumber", "VATNumber"} <= set(filled)
    assert texts(root, "y:SalesInvoice/y:DueDate") == ["2024-03-31"]
    assert texts(root, "y:SalesInvoice/y:Reference") == ["INV-1"]
    assert texts(root, "y:SalesInvoice/y:Process") == ["true"]
    assert texts(root, "y:SalesInvoice/y:EmailToCustomer") == ["false"]
    assert texts(root, "y:SalesInvoice/y:Currency") == ["EUR"]
    contact = "y:SalesInvoice/y:Contact/y:"
    assert texts(root, contact + "ContactCode") == ["C001"]
    assert texts(root, contact + "ContactType") == ["Person"]
    assert texts(root, contact + "CountryCode") == ["NL"]
    assert texts(root, contact + "AddressLine_1") == ["Dam 1"]
    product = "y:SalesInvoice/y:InvoiceLines/y:InvoiceLine/y:Product/y:"
    assert texts(root, product + "VATType") == ["1", "2", "3"]
    assert texts(root, product + "VATPercentage") == ["21.00", "9.00", "0.00"]
    assert texts(root, product + "GLAccountCode") == ["8100", "8200", "8100"]
    assert texts(root, product + "Description")[0] == "Consulting hours"  # no control chars
    assert texts(root, "y:SalesInvoice/y:InvoiceLines/y:InvoiceLine/y:LineAmount") == ["200.00"] * 3


def test_without_a_default_the_gl_account_is_8000() -> None:
    _, root = build(snapshot())
    path = "y:SalesInvoice/y:InvoiceLines/y:InvoiceLine/y:Product/y:GLAccountCode"
    assert texts(root, path) == ["8000"]


def test_a_credit_note_has_negative_lines() -> None:
    document = snapshot(kind="credit_note", number="CN-1")
    raw, root = build(document)
    assert validation_errors(raw) == []
    lines = "y:SalesInvoice/y:InvoiceLines/y:InvoiceLine/"
    assert texts(root, lines + "y:LineAmount") == ["-200.00"]
    assert texts(root, lines + "y:LineVATAmount") == ["-42.00"]
    assert texts(root, lines + "y:Product/y:SalesPrice") == ["-100.0000"]
    assert texts(root, lines + "y:ProductQuantity") == ["2.0000"]
    # The subject carries our marker: the open item shows it, and the lookup proves with
    # it that an item with our reference is this document.
    assert texts(root, "y:SalesInvoice/y:Subject") == [f"Credit note CN-1 {marker(document.id)}"]


def test_documents_yuki_cannot_take_are_refused_before_any_call() -> None:
    with pytest.raises(PermanentError) as vat:
        build(snapshot(line("7")))
    assert vat.value.code == "unknown_vat_code" and "7 %" in vat.value.message
    with pytest.raises(PermanentError) as long_ref:
        build(snapshot(number="X" * 51))
    assert long_ref.value.code == "reference_too_long"


def test_a_batch_holds_every_invoice_in_order() -> None:
    invoices = [
        documents.sales_invoice(
            snapshot(number=f"INV-{n}"), reference=f"INV-{n}", default_gl_account=None
        )
        for n in range(3)
    ]
    raw = documents.sales_invoices(invoices)
    assert validation_errors(raw) == []
    assert texts(etree.fromstring(raw), "y:SalesInvoice/y:Reference") == ["INV-0", "INV-1", "INV-2"]


RESPONSE = b"""<SalesInvoicesImportResponse
 xmlns="urn:xmlns:http://www.theyukicompany.com:salesinvoicesresponse">
 <TotalSucceeded xmlns="">1</TotalSucceeded><TotalFailed xmlns="">1</TotalFailed>
 <Invoice xmlns=""><Succeeded>true</Succeeded><Reference>A</Reference><Message/>
  <DocumentID>doc-a</DocumentID><BookingNumber>000001</BookingNumber></Invoice>
 <Invoice xmlns=""><Succeeded>false</Succeeded><Reference>B</Reference>
  <Message>Period 2024-03 is closed: no transactions can be booked on 2024-03-15
  (De periode 03-2024 is afgesloten)</Message><DocumentID/><BookingNumber/></Invoice>
</SalesInvoicesImportResponse>"""


def test_results_are_read_and_classified() -> None:
    ok, closed = documents.parse_import_response(RESPONSE)
    assert ok == InvoiceResult(True, "A", "", "doc-a", "000001")
    assert errors.classify_result(ok) is None
    refusal = errors.classify_result(closed)
    assert refusal is not None and refusal.code == "period_closed"
    assert "afgesloten" in refusal.message


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("No tax code for VATPercentage 21 & VATType 9", "unknown_vat_code"),
        ("Contact not found: ContactCode is unknown and no FullName is given", "contact_not_found"),
        (
            "The XML document is not valid according to SalesInvoices.xsd: line 3",
            "invalid_document",
        ),
        ("Something else entirely", "rejected"),
    ],
)
def test_refusal_messages_map_to_codes(message: str, code: str) -> None:
    refusal = errors.classify_result(InvoiceResult(False, "A", message, "", ""))
    assert refusal is not None and refusal.code == code
    assert message in refusal.message


def test_a_schema_rejection_is_recognised_only_when_every_invoice_failed_with_it() -> None:
    xsd = "The XML document is not valid according to SalesInvoices.xsd: line 1: x"
    assert errors.is_schema_rejection([InvoiceResult(False, r, xsd, "", "") for r in "AB"])
    assert not errors.is_schema_rejection(
        [InvoiceResult(False, "A", xsd, "", ""), InvoiceResult(True, "B", "", "d", "1")]
    )
