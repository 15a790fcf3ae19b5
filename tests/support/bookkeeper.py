"""A bookkeeper's own entries in the books, typed through each system's public API as any
other app would (Exact's second OAuth app, Lexware's private API key, Yuki's web-service
key): last year's entries that carry this year's invoice numbers, and entries typed by hand
with the same reference as one of ours. The chaos run must never adopt them nor count them
as ours; their ids come back so the checks can tell them apart."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from tests.e2e.conftest import exact_token_for_test_app
from tests.support.integrations import ConnectedClient
from tests.support.processes import Stack

EXACT_API = "/exact/api/v1"
YUKI_SALES_NS = "urn:xmlns:http://www.theyukicompany.com:salesinvoices"
LEXWARE_REFERENCE = "Referenz / Reference: "  # the line our Lexware connector writes
LAST_YEAR = "2025-11-20"
OTHER_DAY = "2026-11-19"


@dataclass(frozen=True)
class Entry:
    """What the bookkeeper types: a reference, a day, a net amount of two lines at the
    client's VAT rate, and a customer (``twin``: the same customer as our document)."""

    number: str
    day: str
    unit_price: str
    customer: str  # our customer's external id for a twin, else a name of its own
    twin: bool


@dataclass
class TypedByHand:
    """Remote ids of every entry the bookkeeper made, per books, and how many of each."""

    ids: dict[str, set[str]] = field(default_factory=dict)
    last_year: int = 0
    same_reference: int = 0
    indistinguishable: int = 0

    def add(self, books: str, remote_id: str) -> None:
        self.ids.setdefault(books, set()).add(remote_id)


def entries_for(number: str, customer: str, *, hand_typed: bool, twin: bool) -> list[Entry]:
    """Last year's entry with this number (another day, total and customer); and, when
    ``hand_typed``, one of this year in the same journal: a ``twin`` has our date, total
    and customer, else another day and total."""
    entries = [Entry(number, LAST_YEAR, "61.00", f"Old customer {number}", twin=False)]
    if hand_typed:
        entries.append(
            Entry(number, "2026-11-20", "75.00", customer, twin=True)
            if twin
            else Entry(number, OTHER_DAY, "64.00", customer, twin=False)
        )
    return entries


def type_entries(
    stack: Stack, client: ConnectedClient, entries: list[Entry], typed: TypedByHand
) -> None:
    typist = {"exact": _exact, "lexware": _lexware, "yuki": _yuki}[client.system]
    typist(stack, client, entries, typed)
    typed.last_year += sum(e.day == LAST_YEAR for e in entries)
    typed.same_reference += sum(e.day != LAST_YEAR for e in entries)
    typed.indistinguishable += sum(e.twin for e in entries)


def _exact(stack: Stack, client: ConnectedClient, entries: list[Entry], typed: TypedByHand) -> None:
    division = httpx.get(f"{stack.sandbox_url}/_sandbox/exact/divisions/{client.books}").json()
    gl = next(g["id"] for g in division["gl_accounts"] if g["code"] == "8000")
    vat = next(
        v["code"] for v in division["vat_codes"] if Decimal(v["percentage"]) == Decimal("0.21")
    )
    base = f"{stack.sandbox_url}{EXACT_API}/{client.books}"
    token = exact_token_for_test_app(stack)
    accounts: dict[str, str] = {}
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:
        for entry in entries:
            name = f"Customer {entry.customer}" if entry.twin else entry.customer
            if name not in accounts:
                created = _exact_post(api, f"{base}/crm/Accounts", {"Name": name, "Status": "C"})
                accounts[name] = created["ID"]
            line = {"GLAccount": gl, "AmountFC": str(Decimal(entry.unit_price) * 2), "VATCode": vat}
            body = {
                "Journal": division["sales_journal"],
                "Customer": accounts[name],
                "EntryDate": f"{entry.day}T00:00:00Z",
                "YourRef": entry.number,
                "Description": "Typed by the bookkeeper",
                "Type": 20,
                "SalesEntryLines": [line],
            }
            typed.add(
                client.books, _exact_post(api, f"{base}/salesentry/SalesEntries", body)["EntryID"]
            )


def _exact_post(api: httpx.Client, url: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = _patiently(lambda: api.post(url, json=body))
    assert answer.status_code == 201, answer.text
    return dict(answer.json()["d"])


def _lexware(
    stack: Stack, client: ConnectedClient, entries: list[Entry], typed: TypedByHand
) -> None:
    """Lexware's lookup reads our reference line: the bookkeeper copies it."""
    org = httpx.get(f"{stack.sandbox_url}/_sandbox/lexware/organizations/{client.books}").json()
    headers = {"Authorization": f"Bearer {org['api_key']}", "Accept": "application/json"}
    with httpx.Client(base_url=f"{stack.sandbox_url}/lexware", headers=headers, timeout=30) as api:
        for entry in entries:
            name = f"Customer {entry.customer}" if entry.twin else entry.customer
            body = {
                "voucherDate": f"{entry.day}T00:00:00.000+01:00",
                "address": {"name": name, "countryCode": "DE"},
                "introduction": f"{LEXWARE_REFERENCE}{entry.number}",
                "lineItems": [
                    {
                        "type": "custom",
                        "name": "Work",
                        "quantity": 2,
                        "unitName": "Stück",
                        "unitPrice": {
                            "currency": "EUR",
                            "netAmount": float(entry.unit_price),
                            "taxRatePercentage": 19,
                        },
                    }
                ],
                "totalPrice": {"currency": "EUR"},
                "taxConditions": {"taxType": "net"},
                "shippingConditions": {
                    "shippingDate": f"{entry.day}T00:00:00.000+01:00",
                    "shippingType": "delivery",
                },
            }
            answer = _patiently(lambda body=body: api.post("/v1/invoices", json=body))
            assert answer.status_code in (200, 201), answer.text
            typed.add(client.books, str(answer.json()["id"]))


def _yuki(stack: Stack, client: ConnectedClient, entries: list[Entry], typed: TypedByHand) -> None:
    """Yuki keeps one document per reference and matches references without regard to
    case: the bookkeeper typed last year's ``ch01-00004`` and this year's ``Ch01-00004``."""
    assert client.access_key
    invoices = []
    for entry in entries:
        reference = entry.number.lower() if entry.day == LAST_YEAR else entry.number.capitalize()
        # A twin is our customer; another is the bookkeeper's own, typed once and picked
        # again for the next entry (Yuki matches the code): a new code per entry made
        # contacts of the same name that the duplicate-customer check counted as ours.
        code = entry.customer if entry.twin else f"H-{entry.customer}"
        name = f"Customer {entry.customer}" if entry.twin else entry.customer
        invoices.append(
            f"<SalesInvoice><Reference>{reference}</Reference><Subject>Typed by hand</Subject>"
            "<PaymentMethod>ElectronicTransfer</PaymentMethod><Process>true</Process>"
            f"<EmailToCustomer>false</EmailToCustomer><Date>{entry.day}</Date>"
            f"<DueDate>{entry.day}</DueDate><Currency>EUR</Currency><ProjectCode/>"
            f"<Contact><ContactCode>{code}</ContactCode><FullName>{name}</FullName>"
            "<CountryCode>NL</CountryCode><CoCNumber/><VATNumber/>"
            "<ContactType>Company</ContactType></Contact><InvoiceLines><InvoiceLine>"
            "<Description>Work</Description><ProductQuantity>2</ProductQuantity><Product>"
            f"<Description>Work</Description><SalesPrice>{entry.unit_price}</SalesPrice>"
            "<VATPercentage>21.00</VATPercentage><VATIncluded>false</VATIncluded>"
            "<VATType>1</VATType><GLAccountCode>8000</GLAccountCode></Product>"
            "</InvoiceLine></InvoiceLines></SalesInvoice>"
        )
    _yuki_submit(stack, client.access_key, client.books, invoices)
    state = httpx.get(f"{stack.sandbox_url}/_sandbox/yuki/administrations/{client.books}").json()
    typed_refs = {e.number.lower() for e in entries} | {e.number.capitalize() for e in entries}
    for document in state["documents"]:
        if document["reference"] in typed_refs:
            typed.add(client.books, str(document["document_id"]))


def _yuki_submit(stack: Stack, access_key: str, administration: str, invoices: list[str]) -> None:
    """ProcessSalesInvoices over plain SOAP 1.1 (one call for all of them)."""
    url = f"{stack.sandbox_url}/yuki/ws/Sales.asmx"
    session = _soap(
        url,
        "Authenticate",
        f'<Authenticate xmlns="http://www.theyukicompany.com/"><accessKey>{access_key}'
        "</accessKey></Authenticate>",
    )
    session_id = session.split("<AuthenticateResult>")[1].split("</AuthenticateResult>")[0]
    answer = _soap(
        url,
        "ProcessSalesInvoices",
        '<ProcessSalesInvoices xmlns="http://www.theyukicompany.com/">'
        f"<sessionId>{session_id}</sessionId><administrationId>{administration}"
        f'</administrationId><xmlDoc><SalesInvoices xmlns="{YUKI_SALES_NS}">'
        f"{''.join(invoices)}</SalesInvoices></xmlDoc></ProcessSalesInvoices>",
    )
    assert f">{len(invoices)}</TotalSucceeded>" in answer, answer[:2000]


def _soap(url: str, action: str, body: str) -> str:
    envelope = (
        '<?xml version="1.0" encoding="utf-8"?><soap:Envelope '
        'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        f"<soap:Body>{body}</soap:Body></soap:Envelope>"
    )
    headers = {
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": f'"http://www.theyukicompany.com/{action}"',
    }
    answer = httpx.post(url, content=envelope.encode(), headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text[:2000]
    return answer.text


def _patiently(call: Any) -> httpx.Response:
    """The bookkeeper's tool honours the system's rate limit (Retry-After / reset)."""
    for _ in range(60):
        answer: httpx.Response = call()
        if answer.status_code != 429:
            return answer
        time.sleep(min(float(answer.headers.get("Retry-After", "1")), 5.0))
    return answer
