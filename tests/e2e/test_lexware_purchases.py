"""Purchase documents end to end into Lexware Office (issue 24.2): a purchase invoice with
its PDF, a receipt (a PNG) and a purchase credit note become bookkeeping vouchers of the
purchase kinds in the sandbox, each with its file uploaded, and come back booked under
the supplier's number; the same Idempotency-Key again changes nothing; two documents of
one supplier make one vendor contact, apart from a customer with the same id."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx

from tests.e2e.conftest import wait_for
from tests.support.integrations import ConnectedClient, connect, invoice_body, new_client
from tests.support.processes import Stack

CONNECTORS = ("lexware",)
PDF = b"%PDF-1.4\n%\xc7\xec\x8f\xa2\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _purchase(
    client: ConnectedClient, number: str, content: bytes, content_type: str, **extra: Any
) -> dict[str, Any]:
    """A supplier's bill: the sales body with ``supplier`` (id ``s-1``, like a customer
    id of this client) and the original file."""
    body = invoice_body(client, number, "s-1")
    body["supplier"] = body.pop("customer")
    body["supplier"]["name"] = "Papier Lieferant GmbH"
    body["lines"] = [
        {"description": "Papier", "quantity": "2", "unit_price": "50.00", "vat_rate": "19"},
        {"description": "Bücher", "quantity": "1", "unit_price": "20.00", "vat_rate": "7"},
    ]
    extension = "pdf" if content_type == "application/pdf" else "png"
    body["file"] = {
        "filename": f"{number}.{extension}",
        "content_type": content_type,
        "content_base64": base64.b64encode(content).decode(),
    }
    return {**body, **extra}


def _synced(partner: httpx.Client, path: str) -> dict[str, Any] | None:
    (state,) = partner.get(path).json()["sync"]
    return dict(state) if state["status"] != "pending" else None


def _settled(partner: httpx.Client, path: str) -> dict[str, Any]:
    return wait_for(lambda: _synced(partner, path))


def test_purchase_documents_reach_lexware_with_their_files(
    stack: Stack, partner: httpx.Client
) -> None:
    client = connect(stack, partner, new_client(partner, "Einkauf GmbH", "DE"), "lexware")
    # A customer with the supplier's id: its contact must stay another one.
    sale = partner.post("/v1/invoices", json=invoice_body(client, "RE-1", "s-1"))
    assert sale.status_code == 201, sale.text

    key = {"Idempotency-Key": "lief-2026-0815"}
    bill = _purchase(client, "LIEF-0815", PDF, "application/pdf")
    posted = partner.post("/v1/purchase-invoices", json=bill, headers=key)
    assert posted.status_code == 201, posted.text
    receipt = partner.post("/v1/receipts", json=_purchase(client, "BON-7", PNG, "image/png"))
    assert receipt.status_code == 201, receipt.text
    credit = _purchase(
        client, "LIEF-0815-G", PDF, "application/pdf", credit_note_for=posted.json()["id"]
    )
    credit["lines"] = credit["lines"][:1]
    credited = partner.post("/v1/purchase-credit-notes", json=credit)
    assert credited.status_code == 201, credited.text

    paths = {
        "LIEF-0815": f"/v1/purchase-invoices/{posted.json()['id']}",
        "BON-7": f"/v1/receipts/{receipt.json()['id']}",
        "LIEF-0815-G": f"/v1/purchase-credit-notes/{credited.json()['id']}",
    }
    states = {n: _settled(partner, p) for n, p in paths.items()}
    for number, state in states.items():
        assert state["status"] == "booked", state
        assert state["booking_number"] == number

    books = httpx.get(f"{stack.sandbox_url}/_sandbox/lexware/organizations/{client.books}")
    vouchers = {v["id"]: v for v in books.json()["vouchers"]}
    files = {"LIEF-0815": PDF, "BON-7": PNG, "LIEF-0815-G": PDF}
    kinds = {
        "LIEF-0815": "purchaseinvoice",
        "BON-7": "purchaseinvoice",
        "LIEF-0815-G": "purchasecreditnote",
    }
    for number, state in states.items():
        voucher = vouchers[state["remote_id"]]
        assert (voucher["voucherType"], voucher["voucherNumber"]) == (kinds[number], number)
        (stored,) = voucher["files"]
        assert stored["sha256"] == hashlib.sha256(files[number]).hexdigest()
    assert vouchers[states["LIEF-0815"]["remote_id"]]["totalGrossAmount"] == 140.4

    # Paid in Lexware: the read-back reports it, as for sales vouchers.
    bill_voucher = states["LIEF-0815"]["remote_id"]
    paid = httpx.post(f"{stack.sandbox_url}/_sandbox/lexware/vouchers/{bill_voucher}/pay")
    assert paid.status_code == 200, paid.text
    bill_path = paths["LIEF-0815"]
    wait_for(lambda: partner.get(bill_path).json()["sync"][0]["payment_status"] == "paid")

    # The same key again: the same answer, nothing new in Lexware.
    again = partner.post("/v1/purchase-invoices", json=bill, headers=key)
    assert again.status_code == 201 and again.json()["id"] == posted.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"

    # The sale is a draft under a customer contact; the three purchases share one vendor.
    wait_for(lambda: _synced(partner, f"/v1/invoices/{sale.json()['id']}"))
    books = httpx.get(f"{stack.sandbox_url}/_sandbox/lexware/organizations/{client.books}")
    assert len(books.json()["vouchers"]) == 4
    roles = sorted(tuple(sorted(c["roles"])) for c in books.json()["contacts"])
    assert roles == [("customer",), ("vendor",)]
    (vendor,) = [c for c in books.json()["contacts"] if "vendor" in c["roles"]]
    assert {vouchers[s["remote_id"]]["contactId"] for s in states.values()} == {vendor["id"]}


def _fault(stack: Stack, path_pattern: str, kind: str) -> None:
    fault = {
        "system": "lexware",
        "path_pattern": path_pattern,
        "kind": kind,
        "count": 1,
        "method": "POST",
    }
    armed = httpx.post(f"{stack.sandbox_url}/_sandbox/faults", json=fault)
    assert armed.status_code == 201, armed.text


def test_lost_answers_make_one_voucher_with_one_file(stack: Stack, partner: httpx.Client) -> None:
    """A voucher's answer lost: the lookup adopts it and uploads the file it lacks. An
    upload's answer lost, or the upload refused for the rate limit: the voucher exists,
    so it is looked up (never made twice) and ends with exactly one file."""
    client = connect(stack, partner, new_client(partner, "Ausfall GmbH", "DE"), "lexware")
    cases = {
        "AUS-1": (r"/v1/vouchers$", "drop_response_after_commit"),
        "AUS-2": (r"/v1/vouchers/[^/]+/files$", "drop_response_after_commit"),
        "AUS-3": (r"/v1/vouchers/[^/]+/files$", "http_429"),
    }
    for number, (pattern, kind) in cases.items():
        _fault(stack, pattern, kind)
        body = _purchase(client, number, PDF, "application/pdf")
        posted = partner.post("/v1/purchase-invoices", json=body)
        assert posted.status_code == 201, posted.text
        state = _settled(partner, f"/v1/purchase-invoices/{posted.json()['id']}")
        assert (state["status"], state["booking_number"]) == ("booked", number), state
        books = httpx.get(f"{stack.sandbox_url}/_sandbox/lexware/organizations/{client.books}")
        mine = [v for v in books.json()["vouchers"] if v["voucherNumber"] == number]
        assert [v["id"] for v in mine] == [state["remote_id"]], number
        assert [f["sha256"] for f in mine[0]["files"]] == [hashlib.sha256(PDF).hexdigest()]
