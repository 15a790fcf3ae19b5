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


OUTSTANDING = b"""<OutstandingItems xmlns="">
 <Item ID="doc-1"><Date>2024-03-01T00:00:00</Date><Description> Invoice INV-1 isync:x </Description>
  <OpenAmount>242.00</OpenAmount><OriginalAmount>242.00</OriginalAmount>
  <Reference> INV-1 </Reference><DocumentID>doc-1</DocumentID>
  <BookingNumber>000007</BookingNumber></Item>
 <y:Item xmlns:y="urn:other" ID="doc-2"><Reference>CN-1</Reference><OpenAmount>0.00</OpenAmount>
  <OriginalAmount>-121.00</OriginalAmount><Date>2024-03-02</Date></y:Item>
 <Item ID="doc-3"><Reference>INV-3</Reference><OpenAmount>n/a</OpenAmount>
  <Date>someday</Date><BookingNumber/></Item>
</OutstandingItems>"""


def test_outstanding_items_are_read_whatever_their_namespace() -> None:
    first, credit, odd = documents.parse_outstanding_items(OUTSTANDING)
    assert first == documents.OutstandingItem(
        reference="INV-1",
        document_id="doc-1",
        booking_number="000007",
        open_amount=Decimal("242.00"),
        original_amount=Decimal("242.00"),
        day=date(2024, 3, 1),
        description="Invoice INV-1 isync:x",
    )
    # Without a DocumentID element, the item's ID attribute names the document.
    assert (credit.reference, credit.document_id) == ("CN-1", "doc-2")
    assert credit.open_amount == 0 and credit.original_amount == Decimal("-121.00")
    assert credit.day == date(2024, 3, 2) and credit.booking_number == ""
    # What the answer does not say (or says unreadably) stays unknown.
    assert (odd.open_amount, odd.original_amount, odd.day) == (None, None, None)
    assert odd.description == "" and odd.document_id == "doc-3"
    assert documents.parse_outstanding_items(b"  ") == []
    assert documents.parse_outstanding_items(b"<OutstandingItems/>") == []


def test_an_item_without_any_id_has_an_empty_document_id() -> None:
    (item,) = documents.parse_outstanding_items(b"<R><Item><Reference>A</Reference></Item></R>")
    assert item.document_id == "" and item.reference == "A"


def test_administrations_by_lowercase_id() -> None:
    raw = b"""<Administrations xmlns="">
     <Administration ID="AB-12"><Name> Bakkerij </Name><DomainID>d</DomainID></Administration>
     <Administration ID="cd-34"><Name/></Administration>
     <Administration><Name>No id</Name></Administration></Administrations>"""
    assert documents.parse_administrations(raw) == {"ab-12": "Bakkerij", "cd-34": "", "": "No id"}
    assert documents.parse_administrations(b"") == {}


def test_an_empty_import_response_has_no_results() -> None:
    assert documents.parse_import_response(b"\n") == []
    (result,) = documents.parse_import_response(
        b"<R><Invoice><Succeeded>True</Succeeded><Reference>A</Reference></Invoice></R>"
    )
    assert result.succeeded and result.document_id == "" and result.message == ""


def test_contact_fields_are_left_out_when_unknown_or_unusable() -> None:
    company = CustomerData(
        external_id="C" * 51,  # too long for ContactCode: Yuki matches on name and address
        name="  Bakkerij\x01 de Vries  ",
        country="Netherlands",  # not a two-letter code
        address=Address(house_number="12", city="Utrecht"),
    )
    document = snapshot().model_copy(update={"customer": company, "due_date": None})
    raw, root = build(document)
    assert validation_errors(raw) == []
    contact = root.find("y:SalesInvoice/y:Contact", NS)
    assert contact is not None
    filled = {etree.QName(e).localname: e.text for e in contact}
    assert filled == {
        "FullName": "Bakkerij de Vries",
        "City": "Utrecht",
        "AddressLine_1": "12",
        "ContactType": "Company",
    }
    assert texts(root, "y:SalesInvoice/y:DueDate") == []
    no_street = company.model_copy(update={"address": Address(city="Utrecht"), "country": "be"})
    _, root = build(document.model_copy(update={"customer": no_street}))
    contact_path = "y:SalesInvoice/y:Contact/y:"
    assert texts(root, contact_path + "AddressLine_1") == []
    assert texts(root, contact_path + "CountryCode") == ["BE"]
    from_address = company.model_copy(update={"address": Address(country="de"), "country": None})
    _, root = build(document.model_copy(update={"customer": from_address}))
    assert texts(root, contact_path + "CountryCode") == ["DE"]
    long_name = company.model_copy(update={"name": "N" * 300, "external_id": "C" * 50})
    _, root = build(document.model_copy(update={"customer": long_name}))
    assert texts(root, contact_path + "FullName") == ["N" * 255]
    assert texts(root, contact_path + "ContactCode") == ["C" * 50]


def test_an_invoice_subject_names_it_and_its_fields_come_in_the_schemas_order() -> None:
    document = snapshot(number="INV-9")
    _, root = build(document)
    assert texts(root, "y:SalesInvoice/y:Subject") == [f"Invoice INV-9 {marker(document.id)}"]
    assert texts(root, "y:SalesInvoice/y:PaymentMethod") == ["ElectronicTransfer"]
    assert texts(root, "y:SalesInvoice/y:Date") == [document.issue_date.isoformat()]
    product = "y:SalesInvoice/y:InvoiceLines/y:InvoiceLine/y:Product/"
    assert texts(root, product + "y:VATIncluded") == ["false"]
    assert texts(root, product + "y:SalesPrice") == ["100.0000"]
    invoice_line = "y:SalesInvoice/y:InvoiceLines/y:InvoiceLine/"
    assert texts(root, invoice_line + "y:Description") == ["Consulting hours"]
    assert texts(root, invoice_line + "y:LineVATAmount") == ["42.00"]


def test_a_line_of_its_own_gl_account_and_a_long_description() -> None:
    long = line(gl_account="8300").model_copy(update={"description": "D" * 300})
    _, root = build(snapshot(long), default_gl="8100")
    product = "y:SalesInvoice/y:InvoiceLines/y:InvoiceLine/y:Product/"
    assert texts(root, product + "y:GLAccountCode") == ["8300"]
    assert texts(root, product + "y:Description") == ["D" * 255]


def test_a_document_without_lines_or_with_a_reference_at_the_limit() -> None:
    with pytest.raises(PermanentError) as empty:
        documents.sales_invoice(
            snapshot().model_copy(update={"lines": []}), reference="A", default_gl_account=None
        )
    assert empty.value.code == "no_lines"
    widest = snapshot(number="X" * documents.MAX_REFERENCE)
    _, root = build(widest)
    assert texts(root, "y:SalesInvoice/y:Reference") == ["X" * documents.MAX_REFERENCE]


def test_an_unknown_rate_names_the_supported_ones() -> None:
    with pytest.raises(PermanentError) as refused:
        documents.vat_type(Decimal("7.50"))
    assert refused.value.message == (
        "Yuki has no VAT type for 7.5 % (supported: 0 %, 6 %, 9 %, 21 %)."
    )


def test_over_long_contact_and_account_texts_are_cut_to_what_the_schema_allows() -> None:
    """Yuki rejects the whole batch on a schema error, so every text fits its field."""
    long = CustomerData(
        external_id="C001",
        name="N" * 300,
        email="e" * 300,
        company_number="K" * 60,
        vat_number="V" * 60,
        address=Address(street="S" * 300, postal_code="P" * 60, city="C" * 70, country="NL"),
    )
    document = snapshot(line(gl_account="G" * 60)).model_copy(update={"customer": long})
    raw, root = build(document)
    assert validation_errors(raw) == []
    contact = "y:SalesInvoice/y:Contact/y:"
    for field, kept in (
        ("FullName", "N" * 255),
        ("EmailAddress", "e" * 255),
        ("CoCNumber", "K" * 50),
        ("VATNumber", "V" * 50),
        ("AddressLine_1", "S" * 255),
        ("Zipcode", "P" * 50),
        ("City", "C" * 60),
    ):
        assert texts(root, contact + field) == [kept]
    product = "y:SalesInvoice/y:InvoiceLines/y:InvoiceLine/y:Product/y:GLAccountCode"
    assert texts(root, product) == ["G" * 50]


def test_a_customer_without_address_or_country_still_goes_out() -> None:
    bare = CustomerData(external_id="C9", name="Walk-in")
    raw, root = build(snapshot().model_copy(update={"customer": bare}))
    assert validation_errors(raw) == []
    contact = root.find("y:SalesInvoice/y:Contact", NS)
    assert contact is not None
    assert [etree.QName(e).localname for e in contact] == ["ContactCode", "FullName", "ContactType"]


def test_refusals_before_any_call_say_why() -> None:
    with pytest.raises(PermanentError) as long_ref:
        build(snapshot(number="X" * 51))
    assert f"at most {documents.MAX_REFERENCE} characters" in long_ref.value.message
    with pytest.raises(PermanentError) as empty:
        documents.sales_invoice(
            snapshot().model_copy(update={"lines": []}), reference="A", default_gl_account=None
        )
    assert empty.value.message == "Yuki does not accept a document without lines."


def test_a_refusal_message_is_read_as_one_line() -> None:
    _, closed = documents.parse_import_response(RESPONSE)
    assert closed.message == (
        "Period 2024-03 is closed: no transactions can be booked on 2024-03-15 "
        "(De periode 03-2024 is afgesloten)"
    )


def test_the_document_id_element_wins_over_the_items_id_attribute() -> None:
    raw = b"<R><Item ID='item-7'><DocumentID>doc-7</DocumentID></Item></R>"
    (item,) = documents.parse_outstanding_items(raw)
    assert item.document_id == "doc-7"


def test_entities_in_yukis_answers_are_not_expanded() -> None:
    """An answer that declares entities (the way to an entity-expansion attack) is read
    with the entity left unexpanded."""
    raw = (
        b'<!DOCTYPE R [<!ENTITY boom "expanded">]>'
        b"<R><Item><Reference>&boom;</Reference><DocumentID>d</DocumentID></Item></R>"
    )
    (item,) = documents.parse_outstanding_items(raw)
    assert "expanded" not in item.reference
