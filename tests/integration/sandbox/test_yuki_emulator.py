"""The Yuki emulator driven by a stock zeep client over real HTTP, as a connector would."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import requests
import zeep
from lxml import etree
from zeep.exceptions import Fault, TransportError

SALES_NS = "urn:xmlns:http://www.theyukicompany.com:salesinvoices"
SERVICES = ("Sales", "Accounting", "AccountingInfo", "Contact", "Archive")
# What stock Yuki answers per imported invoice (ACCOUNTING-APIS.md 3.2), in this order.
STOCK_RESULT = ["Succeeded", "Processed", "EmailSent", "Reference", "Subject", "Message"]


@dataclass
class Admin:
    access_key: str
    administration_id: str
    control: str  # /_sandbox/yuki/administrations/{id}


def client(wsdl: str) -> zeep.Client:
    """A stock zeep client, no plugins or settings."""
    return zeep.Client(wsdl)  # type: ignore[no-untyped-call]


@pytest.fixture(scope="module")
def sales(sandbox_url: str) -> zeep.Client:
    return client(f"{sandbox_url}/yuki/ws/Sales.asmx?WSDL")


@pytest.fixture(scope="module")
def accounting(sandbox_url: str) -> zeep.Client:
    return client(f"{sandbox_url}/yuki/ws/Accounting.asmx?WSDL")


@pytest.fixture
def admin(sandbox_url: str) -> Iterator[Admin]:
    name = f"Test {uuid.uuid4().hex[:8]}"
    body = requests.post(f"{sandbox_url}/_sandbox/yuki/administrations", json={"name": name})
    assert body.status_code == 201, body.text
    data = body.json()
    yield Admin(
        data["access_key"],
        data["administration_id"],
        f"{sandbox_url}/_sandbox/yuki/administrations/{data['administration_id']}",
    )


def invoice(
    reference: str,
    *,
    day: str = "2024-03-01",
    price: str = "100.00",
    vat: tuple[str, int] = ("21.00", 1),
    process: bool = True,
    contact_code: str = "C001",
) -> str:
    pct, vat_type = vat
    return f"""<SalesInvoice>
 <Reference>{reference}</Reference><Subject>Invoice {reference}</Subject>
 <PaymentMethod>ElectronicTransfer</PaymentMethod>
 <Process>{str(process).lower()}</Process><EmailToCustomer>false</EmailToCustomer>
 <Date>{day}</Date><DueDate>{day}</DueDate><Currency>EUR</Currency><ProjectCode/>
 <Contact><ContactCode>{contact_code}</ContactCode><FullName>Acme BV</FullName>
  <CountryCode>NL</CountryCode><CoCNumber/><VATNumber/><ContactType>Company</ContactType></Contact>
 <InvoiceLines>
  <InvoiceLine><Description>Consulting</Description><ProductQuantity>2</ProductQuantity>
   <Product><Description>Consulting</Description><SalesPrice>{price}</SalesPrice>
    <VATPercentage>{pct}</VATPercentage><VATIncluded>false</VATIncluded>
    <VATType>{vat_type}</VATType><GLAccountCode>8000</GLAccountCode></Product></InvoiceLine>
  <InvoiceLine><Description>Hosting</Description><ProductQuantity>1</ProductQuantity>
   <Product><Description>Hosting</Description><SalesPrice>50.00</SalesPrice>
    <VATPercentage>{pct}</VATPercentage><VATIncluded>false</VATIncluded>
    <VATType>{vat_type}</VATType></Product></InvoiceLine>
 </InvoiceLines></SalesInvoice>"""


def xml_doc(*invoices: str) -> Any:
    return etree.fromstring(
        f'<SalesInvoices xmlns="{SALES_NS}">{"".join(invoices)}</SalesInvoices>'
    )


def submit(sales: zeep.Client, admin: Admin, *invoices: str) -> dict[str, Any]:
    session = sales.service.Authenticate(accessKey=admin.access_key)
    result = sales.service.ProcessSalesInvoices(
        sessionId=session, administrationId=admin.administration_id, xmlDoc=xml_doc(*invoices)
    )
    assert etree.QName(result).localname == "SalesInvoicesImportResponse"
    rows = [{child.tag: child.text or "" for child in inv} for inv in result.findall("Invoice")]
    return {
        "succeeded": int(result.findtext("TotalSucceeded")),
        "failed": int(result.findtext("TotalFailed")),
        "invoices": rows,
    }


def documents(admin: Admin, reference: str | None = None) -> list[dict[str, Any]]:
    params = {"reference": reference} if reference else {}
    response = requests.get(f"{admin.control}/documents", params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


def test_every_service_serves_a_wsdl_with_both_bindings(sandbox_url: str) -> None:
    for service in SERVICES:
        for query in ("WSDL", "wsdl"):
            response = requests.get(f"{sandbox_url}/yuki/ws/{service}.asmx?{query}")
            assert response.status_code == 200
            root = etree.fromstring(response.content)
            assert root.get("targetNamespace") == "http://www.theyukicompany.com/"
            addresses = root.xpath("//*[local-name()='address']/@location")
            assert addresses == [f"{sandbox_url}/yuki/ws/{service}.asmx"] * 2
            bindings = root.xpath("//*[local-name()='binding']/@transport")
            assert len(bindings) == 2
            assert b'soapAction="http://www.theyukicompany.com/Authenticate"' in response.content


def test_authenticate_administrations_and_bad_key(sales: zeep.Client, admin: Admin) -> None:
    session = sales.service.Authenticate(accessKey=admin.access_key)
    assert uuid.UUID(session)
    listing = sales.service.Administrations(sessionID=session)
    found = listing.findall("Administration")
    assert [a.get("ID") for a in found] == [admin.administration_id]
    name = found[0].findtext("Name")
    assert sales.service.AdministrationID(sessionID=session, administrationName=name) == (
        admin.administration_id
    )
    with pytest.raises(Fault, match="Invalid access key"):
        sales.service.Authenticate(accessKey="not-a-key")


def test_a_batch_fails_only_the_invoice_with_an_unknown_vat_pair(
    sales: zeep.Client, admin: Admin
) -> None:
    result = submit(
        sales,
        admin,
        invoice("B-1"),
        invoice("B-2", vat=("21.00", 9)),
        invoice("B-3", process=False),
    )
    assert (result["succeeded"], result["failed"]) == (2, 1)
    ok, bad, draft = result["invoices"]
    assert all(list(r) == STOCK_RESULT for r in result["invoices"])  # no identifiers
    assert ok["Succeeded"] == "true" and ok["Processed"] == "true"
    assert bad["Succeeded"] == "false"
    assert bad["Message"] == "No tax code for VATPercentage 21 & VATType 9"
    assert draft["Succeeded"] == "true" and draft["Processed"] == "false"
    stored = {d["reference"]: d for d in documents(admin)}
    assert set(stored) == {"B-1", "B-3"}
    assert stored["B-1"]["gross"] == "302.50"  # (2 x 100 + 50) x 1.21
    assert stored["B-1"]["open_amount"] == "302.50"
    assert stored["B-3"]["open_amount"] is None
    assert stored["B-1"]["booking_number"] and stored["B-3"]["booking_number"] is None


def test_identifiers_and_escaped_text_are_switches(sales: zeep.Client, admin: Admin) -> None:
    """Not stock: DocumentID and BookingNumber in each result; the Result as one string of
    escaped XML (zeep's typed answer has no place for text, so the raw answer is read)."""
    body: dict[str, Any] = {"identifiers": True, "form": "escaped"}
    assert requests.put(f"{admin.control}/answers", json=body).json() == body
    session = sales.service.Authenticate(accessKey=admin.access_key)
    with sales.settings(raw_response=True):
        raw = sales.service.ProcessSalesInvoices(
            sessionId=session,
            administrationId=admin.administration_id,
            xmlDoc=xml_doc(invoice("S-1"), invoice("S-2", process=False)),
        )
    [text] = etree.fromstring(raw.content).xpath("//*[local-name()='ProcessSalesInvoicesResult']")
    assert len(text) == 0 and text.text.startswith("<SalesInvoicesImportResponse")
    answer = etree.fromstring(text.text.encode())
    ok, draft = ({c.tag: c.text or "" for c in inv} for inv in answer.findall("Invoice"))
    assert list(ok) == [*STOCK_RESULT, "Contact", "DocumentID", "BookingNumber"]
    stored = {d["reference"]: d for d in documents(admin)}
    assert (ok["DocumentID"], ok["BookingNumber"]) == (
        stored["S-1"]["document_id"],
        stored["S-1"]["booking_number"],
    )
    assert draft["BookingNumber"] == ""


def test_a_resent_reference_updates_and_resets_cost_centres(
    sales: zeep.Client, admin: Admin
) -> None:
    assert submit(sales, admin, invoice("U-1"))["invoices"][0]["Succeeded"] == "true"
    body = {"reference": "U-1", "cost_centre": "CC-10", "project": "P-7"}
    assert requests.post(f"{admin.control}/cost-centres", json=body).status_code == 200
    assert documents(admin, "U-1")[0]["lines"][0]["cost_centre"] == "CC-10"

    [before] = documents(admin, "U-1")
    again = submit(sales, admin, invoice("U-1", price="200.00"))["invoices"][0]
    assert again["Succeeded"] == "true"
    [doc] = documents(admin, "U-1")
    assert (doc["document_id"], doc["booking_number"]) == (
        before["document_id"],
        before["booking_number"],
    )
    assert doc["version"] == 2 and doc["gross"] == "544.50"
    assert all(line["cost_centre"] is None and line["project"] is None for line in doc["lines"])

    mode = requests.put(f"{admin.control}/duplicate-mode", json={"mode": "reject"})
    assert mode.status_code == 200
    refused = submit(sales, admin, invoice("U-1", price="300.00"))["invoices"][0]
    assert refused["Succeeded"] == "false" and "already exists" in refused["Message"]
    assert documents(admin, "U-1")[0]["version"] == 2


def test_an_invoice_in_a_closed_period_is_refused(sales: zeep.Client, admin: Admin) -> None:
    closed = requests.post(f"{admin.control}/periods/close", json={"year": 2024, "month": 3})
    assert closed.json()["closed_months"] == ["2024-03"]
    result = submit(
        sales, admin, invoice("P-1", day="2024-03-15"), invoice("P-2", day="2024-04-01")
    )
    refused, booked = result["invoices"]
    assert refused["Succeeded"] == "false"
    assert re.search(r"Period 2024-03 is closed", refused["Message"])
    assert booked["Succeeded"] == "true"

    requests.post(f"{admin.control}/periods/close", json={"until": "2024-04-30"})
    later = submit(sales, admin, invoice("P-3", day="2024-04-30"))["invoices"][0]
    assert later["Succeeded"] == "false" and "closed" in later["Message"]


def test_an_expired_session_gets_a_fault(
    sandbox_url: str, sales: zeep.Client, admin: Admin
) -> None:
    session = sales.service.Authenticate(accessKey=admin.access_key)
    sales.service.Administrations(sessionID=session)
    expired = requests.post(
        f"{sandbox_url}/_sandbox/yuki/sessions/expire", json={"session_id": session}
    )
    assert expired.json() == {"expired": 1}
    with pytest.raises(Fault, match="session is invalid or has expired"):
        sales.service.Administrations(sessionID=session)

    fresh = sales.service.Authenticate(accessKey=admin.access_key)
    requests.post(f"{sandbox_url}/_sandbox/clock/advance", json={"seconds": 3601})
    with pytest.raises(Fault, match="expired"):
        sales.service.ProcessSalesInvoices(
            sessionId=fresh, administrationId=admin.administration_id, xmlDoc=xml_doc(invoice("X"))
        )


def test_an_xsd_invalid_document_rejects_the_whole_batch(sales: zeep.Client, admin: Admin) -> None:
    broken = invoice("V-2").replace("<Date>2024-03-01</Date>", "<Date>2024-02-30</Date>")
    result = submit(sales, admin, invoice("V-1"), broken)
    assert (result["succeeded"], result["failed"]) == (0, 2)
    assert all("SalesInvoices.xsd" in inv["Message"] for inv in result["invoices"])
    assert documents(admin) == []


def test_check_outstanding_item_reports_zero_after_a_payment(
    sales: zeep.Client, accounting: zeep.Client, admin: Admin
) -> None:
    submit(sales, admin, invoice("O-1"), invoice("O-2", process=False))
    [booked] = documents(admin, "O-1")
    session = accounting.service.Authenticate(accessKey=admin.access_key)

    def open_amounts(reference: str) -> list[str]:
        items = accounting.service.CheckOutstandingItem(sessionID=session, Reference=reference)
        return [item.findtext("OpenAmount") for item in items.findall("Item")]

    assert open_amounts("O-1") == ["302.50"]
    assert open_amounts(booked["booking_number"]) == ["302.50"]
    assert open_amounts("O-2") == []  # a draft has no open item
    debtors = accounting.service.OutstandingDebtorItems(
        sessionID=session,
        administrationID=admin.administration_id,
        includeBankTransactions=False,
        sortOrder="DateAsc",
    )
    assert [i.findtext("Reference") for i in debtors.findall("Item")] == ["O-1"]
    assert debtors.find("Item").findtext("DocumentID") == booked["document_id"]

    paid = requests.post(f"{admin.control}/payments", json={"reference": "O-1"})
    assert paid.json()["open_amount"] == "0.00"
    assert open_amounts("O-1") == ["0.00"]
    debtors = accounting.service.OutstandingDebtorItems(
        sessionID=session,
        administrationID=admin.administration_id,
        includeBankTransactions=False,
        sortOrder="DateAsc",
    )
    assert debtors.findall("Item") == []


def test_outstanding_debtor_items_by_date_lists_the_open_items_of_a_period(
    sales: zeep.Client, accounting: zeep.Client, admin: Admin
) -> None:
    """As Yuki documents the answer: ``<Item ID>`` and ``DocumentID`` are two GUIDs, the
    Reference is the invoice number sent, a sales invoice is Type 6; no booking number."""
    submit(
        sales,
        admin,
        invoice("D-FEB", day="2024-02-29"),
        invoice("D-MAR", day="2024-03-01"),
        invoice("D-MAR-31", day="2024-03-31"),
        invoice("D-APR", day="2024-04-01"),
    )
    session = accounting.service.Authenticate(accessKey=admin.access_key)
    answer = accounting.service.OutstandingDebtorItemsByDate(
        sessionID=session,
        administrationID=admin.administration_id,
        includeBankTransactions=False,
        sortOrder="DateAsc",
        startDate=datetime(2024, 3, 1),
        endDate=datetime(2024, 3, 31),
    )
    assert etree.QName(answer).localname == "OutstandingDebtorItems"
    items = answer.findall("Item")
    assert [i.findtext("Reference") for i in items] == ["D-MAR", "D-MAR-31"]  # both ends
    [stored] = documents(admin, "D-MAR")
    first = items[0]
    assert first.findtext("DocumentID") == stored["document_id"]
    assert first.get("ID") == stored["item_id"] != stored["document_id"]
    assert (first.find("Type").get("ID"), first.findtext("Type")) == ("6", "Verkoopfactuur")
    assert first.find("BookingNumber") is None  # not stock


def test_a_foreign_administration_fails(sales: zeep.Client, admin: Admin, sandbox_url: str) -> None:
    other = requests.post(f"{sandbox_url}/_sandbox/yuki/administrations", json={}).json()
    session = sales.service.Authenticate(accessKey=admin.access_key)
    with pytest.raises(Fault, match="No access to administration"):
        sales.service.ProcessSalesInvoices(
            sessionId=session,
            administrationId=other["administration_id"],
            xmlDoc=xml_doc(invoice("F-1")),
        )


def test_contacts_are_matched_or_created_and_searchable(
    sandbox_url: str, sales: zeep.Client, admin: Admin
) -> None:
    no_code = invoice("C-3", contact_code="").replace("<ContactCode></ContactCode>", "")
    submit(sales, admin, invoice("C-1"), invoice("C-2"), no_code, invoice("C-4", contact_code="C9"))
    state = requests.get(admin.control).json()
    assert sorted(c["code"] for c in state["contacts"]) == ["C001", "C9"]
    assert sorted(p["description"] for p in state["products"]) == ["Consulting", "Hosting"]

    contacts = client(f"{sandbox_url}/yuki/ws/Contact.asmx?WSDL")
    session = contacts.service.Authenticate(accessKey=admin.access_key)
    found = contacts.service.SearchContacts(
        sessionID=session, searchOption="Code", searchValue="C9"
    )
    assert [c.findtext("Code") for c in found.findall("Contact")] == ["C9"]


def test_soap12_and_a_wrong_soapaction(sandbox_url: str, sales: zeep.Client, admin: Admin) -> None:
    soap12 = sales.bind("Sales", "SalesSoap12")
    session = soap12.Authenticate(accessKey=admin.access_key)
    assert uuid.UUID(session)
    envelope = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<Authenticate xmlns="http://www.theyukicompany.com/"><accessKey>x</accessKey>'
        "</Authenticate></soap:Body></soap:Envelope>"
    )
    response = requests.post(
        f"{sandbox_url}/yuki/ws/Sales.asmx",
        data=envelope,
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:nope"'},
    )
    assert response.status_code == 500
    assert b"did not recognize the value of HTTP Header SOAPAction" in response.content


def test_stats_count_calls_and_invoices(sandbox_url: str, sales: zeep.Client, admin: Admin) -> None:
    requests.delete(f"{sandbox_url}/_sandbox/yuki/stats")
    submit(sales, admin, invoice("S-1"), invoice("S-2"))
    submit(sales, admin, invoice("S-3"))
    stats = requests.get(f"{sandbox_url}/_sandbox/yuki/stats").json()
    assert stats == {"process_calls": 2, "invoices_total": 3, "invoices_per_call": [2, 1]}


def test_a_late_visible_batch_is_booked_but_hidden_from_lookups_until_its_delay(
    sandbox_url: str, sales: zeep.Client, accounting: zeep.Client, admin: Admin
) -> None:
    """drop_response_visible_late on ProcessSalesInvoices: the invoices are booked, the
    answer is lost, and CheckOutstandingItem(Admin) and OutstandingDebtorItems show none
    of them until delay_seconds of sandbox time have passed."""
    session = sales.service.Authenticate(accessKey=admin.access_key)
    fault: dict[str, Any] = {
        "system": "yuki",
        "path_pattern": "Sales.asmx",
        "method": "POST",
        "kind": "drop_response_visible_late",
        "delay_seconds": 60,
    }
    assert requests.post(f"{sandbox_url}/_sandbox/faults", json=fault).status_code == 201
    with pytest.raises(TransportError) as lost:  # a gateway's 504 page, not a SOAP answer
        sales.service.ProcessSalesInvoices(
            sessionId=session,
            administrationId=admin.administration_id,
            xmlDoc=xml_doc(invoice("LATE-1"), invoice("LATE-2")),
        )
    assert lost.value.status_code == 504
    assert sorted(d["reference"] for d in documents(admin)) == ["LATE-1", "LATE-2"]

    def lookups() -> list[list[str]]:
        by_admin = accounting.service.CheckOutstandingItemAdmin(
            sessionID=session, administrationID=admin.administration_id, Reference="LATE-1"
        )
        anywhere = accounting.service.CheckOutstandingItem(sessionID=session, Reference="LATE-2")
        debtors = accounting.service.OutstandingDebtorItems(
            sessionID=session,
            administrationID=admin.administration_id,
            includeBankTransactions=False,
            sortOrder="DateAsc",
        )
        return [
            [i.findtext("Reference") for i in found.findall("Item")]
            for found in (by_admin, anywhere, debtors)
        ]

    assert lookups() == [[], [], []]
    requests.post(f"{sandbox_url}/_sandbox/clock/advance", json={"seconds": 61})
    assert lookups() == [["LATE-1"], ["LATE-2"], ["LATE-1", "LATE-2"]]


def test_an_invoice_typed_changed_and_deleted_in_yuki_shows_in_the_open_items(
    accounting: zeep.Client, admin: Admin
) -> None:
    """What a Yuki user does by hand, for reconciliation tests: the typed invoice gets
    Yuki's own number as reference; a change shows in the open item; a deleted one goes."""
    typed = requests.post(
        f"{admin.control}/documents",
        json={"contact": "Bakker BV", "date": "2024-03-05", "net_amount": "100.00"},
    )
    assert typed.status_code == 201, typed.text
    created = typed.json()
    assert created["reference"] == created["booking_number"]
    assert (created["gross"], created["contact"]["name"]) == ("121.00", "Bakker BV")
    taken = requests.post(
        f"{admin.control}/documents",
        json={"contact": "X", "date": "2024-03-05", "net_amount": "1", "reference": "000001"},
    )
    assert taken.status_code == 409, taken.text
    changed = requests.post(
        f"{admin.control}/documents/{created['reference']}/edit",
        json={"net_amount": "200.00", "date": "2024-03-09", "contact": "Jansen"},
    )
    assert changed.status_code == 200, changed.text
    session = accounting.service.Authenticate(accessKey=admin.access_key)

    def items() -> list[tuple[str | None, ...]]:
        answer = accounting.service.OutstandingDebtorItems(
            sessionID=session,
            administrationID=admin.administration_id,
            includeBankTransactions=False,
            sortOrder="DateAsc",
        )
        return [
            tuple(i.findtext(n) for n in ("Reference", "Date", "Contact", "OriginalAmount"))
            for i in answer.findall("Item")
        ]

    assert items() == [(created["reference"], "2024-03-09", "Jansen", "242.00")]
    deleted = requests.delete(f"{admin.control}/documents/{created['reference']}")
    assert deleted.status_code == 200, deleted.text
    assert items() == []


def test_a_document_has_a_read_only_page_for_the_console(sales: zeep.Client, admin: Admin) -> None:
    """Where the console's "open in Yuki" leads under the sandbox: by DocumentID (what a
    booking stores) or by reference (what reconciliation may store)."""
    assert submit(sales, admin, invoice("P-1"))["succeeded"] == 1
    [stored] = documents(admin, "P-1")
    for key in (stored["document_id"], "P-1"):
        page = requests.get(f"{admin.control}/documents/{key}")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "sales invoice P-1</h1>" in page.text and "302.50" in page.text
    assert requests.get(f"{admin.control}/documents/P-404").status_code == 404
