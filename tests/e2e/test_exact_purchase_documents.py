"""Issue 24.2 for Exact Online: purchase invoices, receipts and purchase credit notes from
POST to entry numbers of the purchase journal, each with its original file attached as an
Exact document, the supplier an account of its own, through real processes."""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import connect_exact, new_exact_division, wait_for
from tests.support.processes import Stack

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.4\n%\xc7\xec\x8f\xa2\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PARTNER = {
    # The same id, name and VAT number as a customer and as a supplier: two lists of the
    # source application, two relations in Exact.
    "external_id": "4711",
    "name": "Groothandel Bakker BV",
    "vat_number": "NL004711000B01",
    "country": "NL",
}


def body(client_id: str, number: str, party: str, **extra: Any) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "external_id": f"ext-{number}",
        "number": number,
        "status": "booked",
        "issue_date": "2026-11-20",
        "due_date": "2026-12-20",
        "currency": "EUR",
        party: dict(PARTNER),
        "lines": [
            {"description": "Flour", "quantity": "2", "unit_price": "50.00", "vat_rate": "21"}
        ],
        **extra,
    }


def file_of(name: str, content: bytes, content_type: str) -> dict[str, str]:
    return {
        "filename": name,
        "content_type": content_type,
        "content_base64": base64.b64encode(content).decode(),
    }


@pytest.fixture(scope="module")
def connected(stack: Stack, partner: httpx.Client) -> dict[str, Any]:
    client = partner.post("/v1/clients", json={"name": "Bakkerij Bakker", "country": "NL"})
    assert client.status_code == 201, client.text
    division = new_exact_division(stack)
    connect_exact(partner, client.json()["id"], division)
    return {"client_id": client.json()["id"], "division": division["division"]}


def state(stack: Stack, division: int) -> dict[str, Any]:
    return dict(httpx.get(f"{stack.sandbox_url}/_sandbox/exact/divisions/{division}").json())


def booked(partner: httpx.Client, path: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        shown = partner.get(path).json()
        sync = shown["sync"]
        assert not sync or sync[0]["status"] != "failed", sync
        return shown if sync and sync[0]["status"] == "booked" else None

    return wait_for(done)


def test_purchase_documents_reach_the_purchase_journal_with_their_files(
    stack: Stack, partner: httpx.Client, connected: dict[str, Any]
) -> None:
    client_id, division = connected["client_id"], connected["division"]
    sale = partner.post("/v1/invoices", json=body(client_id, "S-1", "customer"))
    assert sale.status_code == 201, sale.text
    booked(partner, f"/v1/invoices/{sale.json()['id']}")

    key = str(uuid.uuid4())
    invoice_body = body(
        client_id, "AP-1", "supplier", file=file_of("AP-1.pdf", PDF, "application/pdf")
    )
    invoice = partner.post(
        "/v1/purchase-invoices", json=invoice_body, headers={"Idempotency-Key": key}
    )
    assert invoice.status_code == 201, invoice.text
    receipt = partner.post(
        "/v1/receipts",
        json=body(client_id, "R-1", "supplier", file=file_of("R-1.png", PNG, "image/png")),
    )
    assert receipt.status_code == 201, receipt.text
    invoice_id = invoice.json()["id"]
    shown_invoice = booked(partner, f"/v1/purchase-invoices/{invoice_id}")
    shown_receipt = booked(partner, f"/v1/receipts/{receipt.json()['id']}")
    credit = partner.post(
        "/v1/purchase-credit-notes",
        json=body(
            client_id,
            "AP-1-C",
            "supplier",
            credit_note_for=invoice_id,
            file=file_of("AP-1-C.pdf", PDF, "application/pdf"),
        ),
    )
    assert credit.status_code == 201, credit.text
    shown_credit = booked(partner, f"/v1/purchase-credit-notes/{credit.json()['id']}")

    exact = state(stack, division)
    entries = {e["entry_id"]: e for e in exact["purchase_entries"]}
    documents = {d["id"]: d for d in exact["documents"]}
    assert len(entries) == 3 and len(documents) == 3
    expected = [(shown_invoice, 30, "121.00", PDF), (shown_receipt, 30, "121.00", PNG)]
    expected.append((shown_credit, 31, "-121.00", PDF))
    suppliers = set()
    for shown, entry_type, gross, content in expected:
        entry = entries[shown["sync"][0]["remote_id"]]
        assert shown["booking_number"] == str(entry["entry_number"])
        assert (entry["journal"], entry["type"]) == ("60", entry_type)
        assert str(entry["amount"]) == gross
        suppliers.add(entry["supplier"])
        document = documents[entry["document"]]
        assert document["entry_id"] == entry["entry_id"]
        assert document["account"] == entry["supplier"]
        [attachment] = document["attachments"]
        assert attachment["sha256"] == hashlib.sha256(content).hexdigest()

    # One supplier for the three, created once, and not the customer of the same id.
    [supplier_id] = suppliers
    [customer] = [e["customer"] for e in exact["entries"]]
    assert customer != supplier_id
    named = [a for a in exact["accounts"] if a["name"] == PARTNER["name"]]
    assert sorted((a["id"] == supplier_id, a["is_supplier"]) for a in named) == [
        (False, False),
        (True, True),
    ]

    # The same post again: the same document, nothing new in Exact.
    again = partner.post(
        "/v1/purchase-invoices", json=invoice_body, headers={"Idempotency-Key": key}
    )
    assert again.status_code in (200, 201), again.text
    assert again.json()["id"] == invoice_id
    after = state(stack, division)
    assert len(after["purchase_entries"]) == 3
    assert len(after["documents"]) == 3
    assert len(after["accounts"]) == len(exact["accounts"])


@pytest.mark.parametrize(
    ("path", "fault"),
    [
        ("purchaseentry/PurchaseEntries", "http_500"),
        ("purchaseentry/PurchaseEntries", "drop_response_after_commit"),
        ("documents/Documents", "drop_response_after_commit"),
        ("documents/DocumentAttachments", "drop_response_after_commit"),
    ],
)
def test_a_failed_or_lost_call_books_once_with_one_filed_document(
    stack: Stack, partner: httpx.Client, connected: dict[str, Any], path: str, fault: str
) -> None:
    """A 500 (nothing created) is retried with the document already filed; a lost answer
    of the entry (created) is found by our reference and adopted; a lost answer of the
    document or its attachment is found by our marker in the Subject and reused, its file
    attached once (no process-local memory of it: the answer never came): one entry, one
    document, one attachment."""
    client_id, division = connected["client_id"], connected["division"]
    armed = httpx.post(
        f"{stack.sandbox_url}/_sandbox/faults",
        json={
            "system": "exact",
            "path_pattern": path,
            "kind": fault,
            "count": 1,
            "method": "POST",
        },
    )
    assert armed.status_code < 300, armed.text
    before = state(stack, division)
    number = f"AP-{path.rsplit('/', 1)[-1][:11]}-{fault[:4]}"
    posted = partner.post(
        "/v1/purchase-invoices",
        json=body(
            client_id, number, "supplier", file=file_of(f"{number}.pdf", PDF, "application/pdf")
        ),
    )
    assert posted.status_code == 201, posted.text
    shown = booked(partner, f"/v1/purchase-invoices/{posted.json()['id']}")

    after = state(stack, division)
    new_entries = [e for e in after["purchase_entries"] if e not in before["purchase_entries"]]
    new_documents = [
        d for d in after["documents"] if d["id"] not in {b["id"] for b in before["documents"]}
    ]
    assert [e["entry_id"] for e in new_entries] == [shown["sync"][0]["remote_id"]]
    assert [d["id"] for d in new_documents] == [new_entries[0]["document"]]
    assert len(new_documents[0]["attachments"]) == 1, new_documents[0]
    assert httpx.get(f"{stack.sandbox_url}/_sandbox/faults").json()["fired"][fault] >= 1
