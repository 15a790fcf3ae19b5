"""Preview on the sandbox: each connector answers with its real mapping and read-only
lookups; every problem it checks shows against the system's live settings, and a
document that previews clean books clean, as previewed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest

from tests.e2e.conftest import wait_for
from tests.support.integrations import ConnectedClient, connect, invoice_body, new_client
from tests.support.processes import Stack

pytestmark = pytest.mark.e2e
CONNECTORS = ("exact", "lexware", "yuki")
# The small-business switch is read from Lexware at once, not from a profile cached minutes.
STACK_ENV = {"INVOICESYNC_LEXWARE_PROFILE_CACHE_SECONDS": "0"}


def preview(partner: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    answer = partner.post("/v1/invoices/preview", json=body)
    assert answer.status_code == 200, answer.text
    (only,) = answer.json()["integrations"]
    return dict(only)


def problems(previewed: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(p["code"], p["field"]) for p in previewed["problems"]]


@pytest.fixture(scope="module")
def exact(stack: Stack, partner: httpx.Client) -> ConnectedClient:
    return connect(stack, partner, new_client(partner, "Bakkerij De Vries B.V.", "NL"), "exact")


@pytest.fixture(scope="module")
def lexware(stack: Stack, partner: httpx.Client) -> ConnectedClient:
    client_id = new_client(partner, "Schädlingsbekämpfung Nord GmbH", "DE")
    return connect(stack, partner, client_id, "lexware")


@pytest.fixture(scope="module")
def yuki(stack: Stack, partner: httpx.Client) -> ConnectedClient:
    return connect(stack, partner, new_client(partner, "Fietsenmaker Bos B.V.", "NL"), "yuki")


def division(stack: Stack, books: str) -> dict[str, Any]:
    return dict(httpx.get(f"{stack.sandbox_url}/_sandbox/exact/divisions/{books}").json())


def test_exact_previews_clean_then_books_as_previewed(
    stack: Stack, partner: httpx.Client, exact: ConnectedClient
) -> None:
    body = invoice_body(exact, "PV-1", customer="pv-cust-1")
    body["lines"].append(
        {"description": "Parts", "quantity": "1", "unit_price": "10.00", "vat_rate": "9"}
    )
    previewed = preview(partner, body)
    assert previewed["system"] == "exact" and previewed["problems"] == []
    customer = previewed["customer"]
    assert (
        customer["action"] == "would_create" and customer["payload"]["Name"] == "Customer pv-cust-1"
    )
    payload = previewed["payload"]
    assert payload["Customer"] is None  # Exact gives the new account its ID
    assert division(stack, exact.books)["entries"] == []  # nothing was sent

    created = partner.post("/v1/invoices", json=body)
    assert created.status_code == 201, created.text

    def booked() -> dict[str, Any] | None:
        state = partner.get(f"/v1/invoices/{created.json()['id']}").json()["sync"][0]
        return state if state["status"] == "booked" else None

    state = wait_for(booked)
    (entry,) = division(stack, exact.books)["entries"]
    assert entry["entry_number"] == int(state["booking_number"])
    assert (entry["journal"], entry["your_ref"], entry["type"]) == (
        payload["Journal"],
        payload["YourRef"],
        payload["Type"],
    )
    assert entry["entry_date"] == payload["EntryDate"][:10]
    booked_lines = [
        (line["gl_account"], Decimal(line["amount"]), Decimal(line["vat_amount"]), line["vat_code"])
        for line in entry["lines"]
    ]
    previewed_lines = [
        (
            line["GLAccount"],
            Decimal(line["AmountFC"]),
            Decimal(line["VATAmountFC"]),
            line["VATCode"],
        )
        for line in payload["SalesEntryLines"]
    ]
    assert booked_lines == previewed_lines

    # Booked once, the customer is linked: the next preview names it, and its code.
    again = preview(partner, invoice_body(exact, "PV-2", customer="pv-cust-1"))
    assert again["customer"]["action"] == "linked"
    assert again["customer"]["remote_id"] == entry["customer"] == again["payload"]["Customer"]


def test_exact_preview_names_a_missing_vat_code_gl_account_and_the_start_date(
    stack: Stack, partner: httpx.Client, exact: ConnectedClient
) -> None:
    body = invoice_body(exact, "PV-3", customer="pv-cust-3")
    body["issue_date"] = "2025-12-31"  # the integration books from 2026-01-01
    body["lines"][0]["gl_account"] = "8999"  # no such revenue account in the division
    body["lines"].append(
        {"description": "Books", "quantity": "1", "unit_price": "10.00", "vat_rate": "7"}
    )
    previewed = preview(partner, body)
    assert problems(previewed) == [
        ("before_start_date", "issue_date"),
        ("gl_account_missing", "lines.0.gl_account"),
        ("unknown_vat_code", "lines.1.vat_rate"),
    ]
    assert "7" in previewed["problems"][2]["message"]
    lines = previewed["payload"]["SalesEntryLines"]
    assert (lines[0]["GLAccount"], lines[1]["VATCode"]) == (None, None)
    assert lines[1]["GLAccount"] is not None and lines[0]["VATCode"] is not None
    assert division(stack, exact.books)["vat_codes"] and all(
        e["your_ref"] != "PV-3" for e in division(stack, exact.books)["entries"]
    )


def test_exact_preview_matches_an_existing_customer(
    stack: Stack, partner: httpx.Client, exact: ConnectedClient
) -> None:
    """A customer never linked but present in Exact (same VAT number): matched, not created."""
    first = invoice_body(exact, "PV-4", customer="pv-cust-4")
    first["customer"]["vat_number"] = "NL123456782B01"
    assert partner.post("/v1/invoices", json=first).status_code == 201
    wait_for(lambda: any(e["your_ref"] == "PV-4" for e in division(stack, exact.books)["entries"]))
    other = invoice_body(exact, "PV-5", customer="another-id-same-company")
    other["customer"]["vat_number"] = "NL123456782B01"
    customer = preview(partner, other)["customer"]
    accounts = division(stack, exact.books)["accounts"]
    (account,) = [a for a in accounts if a["vat_number"] == "NL123456782B01"]
    assert (customer["action"], customer["remote_id"]) == ("matched", account["id"])


def test_exact_preview_names_a_customer_blocked_in_exact(
    stack: Stack, partner: httpx.Client, exact: ConnectedClient
) -> None:
    """The bookkeeper blocks an account in Exact (its ``Blocked`` flag): the preview names
    the customer problem for the linked customer and for another id that matches the same
    account (its VAT number), and the push is indeed refused for the same cause."""
    first = invoice_body(exact, "PV-B1", customer="pv-cust-b")
    first["customer"]["vat_number"] = "NL003092744B01"
    created = partner.post("/v1/invoices", json=first)
    assert created.status_code == 201, created.text
    wait_for(lambda: any(e["your_ref"] == "PV-B1" for e in division(stack, exact.books)["entries"]))
    (account,) = [
        a for a in division(stack, exact.books)["accounts"] if a["vat_number"] == "NL003092744B01"
    ]
    blocked = httpx.post(
        f"{stack.sandbox_url}/_sandbox/exact/divisions/{exact.books}/accounts/{account['id']}/block",
        json={"blocked": True},
    )
    assert blocked.status_code == 200, blocked.text

    linked = preview(partner, invoice_body(exact, "PV-B2", customer="pv-cust-b"))
    assert linked["customer"]["action"] == "linked"
    assert problems(linked) == [("customer_blocked", "customer")]
    assert "blocked in Exact" in linked["problems"][0]["message"]
    other = invoice_body(exact, "PV-B3", customer="pv-cust-b-other-id")
    other["customer"]["vat_number"] = "NL003092744B01"
    matched = preview(partner, other)
    assert (matched["customer"]["action"], matched["customer"]["remote_id"]) == (
        "matched",
        account["id"],
    )
    assert problems(matched) == [("customer_blocked", "customer")]

    refused = partner.post("/v1/invoices", json=invoice_body(exact, "PV-B2", customer="pv-cust-b"))
    assert refused.status_code == 201, refused.text

    def failed() -> dict[str, Any] | None:
        state = partner.get(f"/v1/invoices/{refused.json()['id']}").json()["sync"][0]
        return state if state["status"] == "failed" else None

    assert wait_for(failed)["error"]["code"] == "customer_blocked"


def test_lexware_preview_names_missing_customer_data_and_a_small_business(
    stack: Stack, partner: httpx.Client, lexware: ConnectedClient
) -> None:
    body = invoice_body(lexware, "PV-6", customer="pv-kunde-6")
    previewed = preview(partner, body)
    assert previewed["system"] == "lexware" and previewed["problems"] == []
    assert previewed["customer"]["action"] == "would_create"
    assert previewed["payload"]["address"]["contactId"] is None
    assert previewed["payload"]["lineItems"][0]["unitPrice"]["taxRatePercentage"] == 19

    incomplete = invoice_body(lexware, "PV-7", customer="pv-kunde-7")
    del incomplete["customer"]["address"]
    incomplete["customer"]["country"] = "DE"
    incomplete["lines"][0]["vat_rate"] = "21"
    found = problems(preview(partner, incomplete))
    assert found == [
        ("incomplete_data", "customer.address.street"),
        ("incomplete_data", "customer.address.postal_code"),
        ("incomplete_data", "customer.address.city"),
        ("unsupported_vat_rate", "lines.0.vat_rate"),
    ]

    switch = f"{stack.sandbox_url}/_sandbox/lexware/organizations/{lexware.books}/small-business"
    assert httpx.put(switch, json={"enabled": True}).status_code == 200
    try:
        small = preview(partner, body)
        assert problems(small) == [("small_business", None)]
        assert "Kleinunternehmer" in small["problems"][0]["message"]
    finally:
        httpx.put(switch, json={"enabled": False})
    org = httpx.get(f"{stack.sandbox_url}/_sandbox/lexware/organizations/{lexware.books}").json()
    assert org["vouchers"] == [] and org["contacts"] == []  # nothing was sent


def test_lexware_previews_clean_then_sends_as_previewed(
    stack: Stack, partner: httpx.Client, lexware: ConnectedClient
) -> None:
    body = invoice_body(lexware, "PV-10", customer="pv-kunde-10")
    previewed = preview(partner, body)
    assert previewed["problems"] == []
    created = partner.post("/v1/invoices", json=body)
    assert created.status_code == 201, created.text

    def sent() -> dict[str, Any] | None:
        state = partner.get(f"/v1/invoices/{created.json()['id']}").json()["sync"][0]
        return state if state["status"] == "sent" else None

    state = wait_for(sent)
    org = httpx.get(f"{stack.sandbox_url}/_sandbox/lexware/organizations/{lexware.books}").json()
    (voucher,) = [v for v in org["vouchers"] if v["id"] == state["remote_id"]]
    payload = previewed["payload"]
    assert voucher["voucherDate"] == payload["voucherDate"]
    lines = payload["lineItems"]
    gross = sum(
        (
            Decimal(str(line["quantity"]))
            * Decimal(str(line["unitPrice"]["netAmount"]))
            * (1 + Decimal(line["unitPrice"]["taxRatePercentage"]) / 100)
            for line in lines
        ),
        Decimal(0),
    )
    assert Decimal(str(voucher["totalGrossAmount"])) == gross.quantize(Decimal("0.01"))
    (contact,) = [c for c in org["contacts"] if c["id"] == voucher["contactId"]]
    assert contact["company"]["name"] == previewed["customer"]["payload"]["company"]["name"]


def test_yuki_previews_the_sales_invoice_it_would_send(
    partner: httpx.Client, yuki: ConnectedClient
) -> None:
    body = invoice_body(yuki, "PV-8", customer="pv-klant-8")
    previewed = preview(partner, body)
    assert previewed["system"] == "yuki" and previewed["problems"] == []
    assert "<Reference>PV-8</Reference>" in previewed["payload"]
    assert "<ContactCode>pv-klant-8</ContactCode>" in previewed["payload"]
    assert previewed["customer"] == {
        "action": "system_matches",
        "remote_id": None,
        "code": "pv-klant-8",
        "payload": None,
    }
    body["lines"][0]["vat_rate"] = "19"
    assert problems(preview(partner, body)) == [("unknown_vat_code", "lines.0.vat_rate")]


def test_exact_preview_names_a_journal_deleted_in_exact(
    stack: Stack, partner: httpx.Client
) -> None:
    """The bookkeeper deleted the (still empty) sales journal after the connection was
    checked: the preview names the setting and the journals there are."""
    client = connect(stack, partner, new_client(partner, "Kapsalon Smit", "NL"), "exact")
    journal = f"{stack.sandbox_url}/_sandbox/exact/divisions/{client.books}/journals/70"
    assert httpx.delete(journal).status_code == 200
    previewed = preview(partner, invoice_body(client, "PV-9", customer="pv-cust-9"))
    assert problems(previewed) == [("journal_missing", "settings.sales_journal")]
    assert "'70'" in previewed["problems"][0]["message"]
    assert f"PATCH /v1/integrations/{client.integration_id}" in previewed["problems"][0]["message"]


def test_yuki_previews_clean_then_books_as_previewed(
    stack: Stack, partner: httpx.Client, yuki: ConnectedClient
) -> None:
    body = invoice_body(yuki, "PV-11", customer="pv-klant-11")
    body["lines"].append(
        {"description": "Parts", "quantity": "3", "unit_price": "9.99", "vat_rate": "9"}
    )
    previewed = preview(partner, body)
    assert previewed["problems"] == []
    sent = ElementTree.fromstring(previewed["payload"])
    created = partner.post("/v1/invoices", json=body)
    assert created.status_code == 201, created.text

    def booked() -> dict[str, Any] | None:
        state = partner.get(f"/v1/invoices/{created.json()['id']}").json()["sync"][0]
        return state if state["status"] == "booked" else None

    wait_for(booked)
    books = f"{stack.sandbox_url}/_sandbox/yuki/administrations/{yuki.books}"
    (document,) = [d for d in httpx.get(books).json()["documents"] if d["reference"] == "PV-11"]
    assert document["date"] == _text(sent, "Date")
    assert document["contact"]["code"] == _text(sent, "ContactCode")
    previewed_lines = [
        (
            Decimal(_text(line, "LineAmount")),
            Decimal(_text(line, "LineVATAmount")),
            int(_text(line, "VATType")),
            _text(line, "GLAccountCode"),
        )
        for line in sent.iter(f"{{{YUKI_NS}}}InvoiceLine")
    ]
    booked_lines = [
        (Decimal(line["net"]), Decimal(line["vat"]), line["vat_type"], line["gl_account"])
        for line in document["lines"]
    ]
    assert booked_lines == previewed_lines


YUKI_NS = "urn:xmlns:http://www.theyukicompany.com:salesinvoices"


def _text(node: ElementTree.Element, name: str) -> str:
    found = node.find(f".//{{{YUKI_NS}}}{name}")
    assert found is not None and found.text is not None, name
    return found.text


def test_a_closed_yuki_period_fails_the_send_in_the_bookkeepers_words(
    stack: Stack, partner: httpx.Client
) -> None:
    """Yuki documents no call that says a period is closed, so the preview cannot name it
    (README: "A closed period in Yuki"); the import's refusal is a ``period_closed``
    failure, not retried, that tells the bookkeeper what to do in their language."""
    client = connect(stack, partner, new_client(partner, "Bloemist Jansen B.V.", "NL"), "yuki")
    closed = httpx.post(
        f"{stack.sandbox_url}/_sandbox/yuki/administrations/{client.books}/periods/close",
        json={"year": 2026, "month": 10},
    )
    assert closed.status_code == 200, closed.text
    body = invoice_body(client, "PV-C1", customer="pv-klant-c1")
    body["issue_date"] = "2026-10-15"
    assert preview(partner, body)["problems"] == []  # not knowable before the send
    created = partner.post("/v1/invoices", json=body)
    assert created.status_code == 201, created.text
    url = f"/v1/invoices/{created.json()['id']}"

    def failed() -> dict[str, Any] | None:
        state = partner.get(url).json()["sync"][0]
        return state if state["status"] == "failed" else None

    error = wait_for(failed)["error"]
    assert (error["code"], error["retryable"]) == ("period_closed", False)
    assert "closed in Yuki; reopen it there" in error["message"]
    assert "2026-10" in error["message"]  # Yuki's own words follow
    dutch = partner.get(url, headers={"Accept-Language": "nl"}).json()["sync"][0]["error"]
    assert dutch["message"].startswith(
        "De boekingsperiode van de documentdatum is afgesloten in Yuki. Open de periode daar"
    )
    documents = httpx.get(
        f"{stack.sandbox_url}/_sandbox/yuki/administrations/{client.books}/documents"
    ).json()
    assert documents == []
