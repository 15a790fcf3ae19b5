"""Lexware emulator's bookkeeping vouchers and voucher files over real HTTP: purchase
invoices and credit notes with a vendor, strict totals and categories, uploads with
their type and size limits, and the voucherlist finding the purchase kinds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from invoicesync_sandbox.settings import SandboxSettings
from tests.integration.sandbox.test_lexware_api import api, new_org
from tests.support.servers import sandbox_config

PDF = b"%PDF-1.7\n% a supplier bill\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
FIVE_MB = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def sandbox_settings() -> SandboxSettings:
    """A rate limit high enough not to get in the way."""
    return sandbox_config(lexware_requests_per_second=1000.0)


@pytest.fixture
def client(sandbox_url: str) -> Iterator[httpx.Client]:
    with api(sandbox_url, new_org(sandbox_url)["api_key"]) as c:
        yield c


def categories(client: httpx.Client, kind: str) -> list[str]:
    rows = client.get("/v1/posting-categories").json()
    return [row["id"] for row in rows if row["type"] == kind]


def vendor(client: httpx.Client, name: str = "Papier Lieferant GmbH") -> str:
    body = {"version": 0, "roles": {"vendor": {}}, "company": {"name": name}}
    made = client.post("/v1/contacts", json=body)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def purchase(
    contact_id: str | None, category: str, kind: str = "purchaseinvoice", **extra: Any
) -> dict[str, Any]:
    """A supplier's bill of 100.00 net + 19.00 VAT."""
    party: dict[str, Any] = (
        {"contactId": contact_id} if contact_id else {"useCollectiveContact": True}
    )
    return {
        "type": kind,
        "voucherNumber": "LIEF-2024-0815",
        "voucherDate": "2024-03-01",
        "dueDate": "2024-03-31",
        "totalGrossAmount": 119.0,
        "totalTaxAmount": 19.0,
        "taxType": "net",
        **party,
        "voucherItems": [
            {"amount": 100.0, "taxAmount": 19.0, "taxRatePercent": 19, "categoryId": category}
        ],
        **extra,
    }


def upload(
    client: httpx.Client, path: str, content: bytes, content_type: str, **data: str
) -> httpx.Response:
    return client.post(path, files={"file": ("bill", content, content_type)}, data=data)


def test_purchase_invoice_with_its_file(client: httpx.Client) -> None:
    contact = vendor(client)
    body = purchase(contact, categories(client, "outgo")[0])
    made = client.post("/v1/vouchers", json=body)
    assert made.status_code == 201, made.text
    created = made.json()
    assert set(created) == {"id", "resourceUri", "createdDate", "updatedDate", "version"}
    assert created["resourceUri"].endswith(f"/v1/vouchers/{created['id']}")
    shown = client.get(f"/v1/vouchers/{created['id']}").json()
    assert shown["files"] == []
    assert shown["type"] == "purchaseinvoice" and shown["voucherStatus"] == "open"
    assert shown["voucherNumber"] == "LIEF-2024-0815" and shown["contactId"] == contact
    assert (shown["totalGrossAmount"], shown["totalTaxAmount"]) == (119.0, 19.0)

    sent = upload(client, f"/v1/vouchers/{created['id']}/files", PDF, "application/pdf")
    assert sent.status_code == 202, sent.text
    file_id = sent.json()["id"]
    shown = client.get(f"/v1/vouchers/{created['id']}").json()
    assert shown["files"] == [file_id]
    assert shown["version"] == created["version"] + 1
    down = client.get(f"/v1/files/{file_id}", headers={"Accept": "*/*"})
    assert down.status_code == 200 and down.content == PDF
    assert down.headers["content-type"] == "application/pdf"


def test_purchase_credit_note_and_image(client: httpx.Client) -> None:
    body = purchase(vendor(client), categories(client, "outgo")[1], kind="purchasecreditnote")
    made = client.post("/v1/vouchers", json=body)
    assert made.status_code == 201, made.text
    shown = client.get(f"/v1/vouchers/{made.json()['id']}").json()
    assert shown["type"] == "purchasecreditnote"
    sent = upload(client, f"/v1/vouchers/{made.json()['id']}/files", PNG, "image/png")
    assert sent.status_code == 202, sent.text
    assert client.get(f"/v1/files/{sent.json()['id']}").content == PNG


def test_upload_alone_makes_an_unchecked_voucher(client: httpx.Client) -> None:
    sent = upload(client, "/v1/files", PDF, "application/pdf", type="voucher")
    assert sent.status_code == 202, sent.text
    voucher = client.get(f"/v1/vouchers/{sent.json()['voucherId']}").json()
    assert voucher["voucherStatus"] == "unchecked" and voucher["files"] == [sent.json()["id"]]
    assert upload(client, "/v1/files", PDF, "application/pdf").status_code == 406  # no type


def _details(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 406, response.text
    body = response.json()
    assert body["message"] == "Validation failed for request."
    return {d["field"]: d["violation"] for d in body["details"]}


def test_income_category_on_a_purchase_is_refused(client: httpx.Client) -> None:
    body = purchase(vendor(client), categories(client, "income")[0])
    assert _details(client.post("/v1/vouchers", json=body)) == {
        "voucherItems[0].categoryId": "NOTVALID"
    }
    assert (
        client.get("/v1/voucherlist", params={"voucherType": "any", "voucherStatus": "any"}).json()[
            "totalElements"
        ]
        == 0
    )


def test_contact_without_vendor_role_is_refused(client: httpx.Client) -> None:
    customer = {"version": 0, "roles": {"customer": {}}, "company": {"name": "Kunde GmbH"}}
    contact = client.post("/v1/contacts", json=customer).json()["id"]
    body = purchase(contact, categories(client, "outgo")[0])
    assert _details(client.post("/v1/vouchers", json=body)) == {"contactId": "NOTVALID"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"totalGrossAmount": 120.0}, "totalGrossAmount"),
        ({"totalTaxAmount": 18.0}, "totalTaxAmount"),
        ({"taxType": "gross"}, "voucherItems[0].taxAmount"),  # 100 gross holds 15.97 VAT
    ],
)
def test_totals_that_do_not_add_up_are_refused(
    client: httpx.Client, change: dict[str, Any], field: str
) -> None:
    body = {**purchase(None, categories(client, "outgo")[0]), **change}
    assert _details(client.post("/v1/vouchers", json=body)) == {field: "NOTVALID"}


def _voucher(client: httpx.Client) -> str:
    made = client.post("/v1/vouchers", json=purchase(None, categories(client, "outgo")[0]))
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def test_file_over_five_megabytes_gets_413(client: httpx.Client) -> None:
    voucher_id = _voucher(client)
    too_big = PDF + b"\x00" * (FIVE_MB + 1 - len(PDF))
    sent = upload(client, f"/v1/vouchers/{voucher_id}/files", too_big, "application/pdf")
    assert sent.status_code == 413, sent.text
    assert sent.json()["details"][0]["field"] == "file"
    just_fits = too_big[:FIVE_MB]
    assert (
        upload(client, f"/v1/vouchers/{voucher_id}/files", just_fits, "application/pdf").status_code
        == 202
    )
    assert len(client.get(f"/v1/vouchers/{voucher_id}").json()["files"]) == 1


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"<Invoice/>", "application/xml"),  # not a type Lexware takes
        (b"MZ\x90\x00 not a pdf", "application/pdf"),  # claims pdf, bytes say otherwise
        (PDF, "image/png"),  # a pdf sent as png
    ],
)
def test_other_file_types_are_refused(
    client: httpx.Client, content: bytes, content_type: str
) -> None:
    voucher_id = _voucher(client)
    sent = upload(client, f"/v1/vouchers/{voucher_id}/files", content, content_type)
    assert _details(sent) == {"file": "NOTVALID"}
    assert client.get(f"/v1/vouchers/{voucher_id}").json()["files"] == []


def test_voucherlist_finds_the_purchase_kinds(client: httpx.Client) -> None:
    outgo = categories(client, "outgo")[0]
    invoice_id = _voucher(client)
    credit = client.post("/v1/vouchers", json=purchase(None, outgo, kind="purchasecreditnote"))
    unchecked = upload(client, "/v1/files", PDF, "application/pdf", type="voucher").json()

    def listed(voucher_type: str, status: str) -> set[str]:
        params = {"voucherType": voucher_type, "voucherStatus": status}
        page = client.get("/v1/voucherlist", params=params)
        assert page.status_code == 200, page.text
        return {row["id"] for row in page.json()["content"]}

    assert listed("purchaseinvoice", "open") == {invoice_id}
    assert listed("purchasecreditnote", "open") == {credit.json()["id"]}
    assert listed("purchaseinvoice", "unchecked") == {unchecked["voucherId"]}
    assert listed("invoice,creditnote", "any") == set()
    row = client.get(
        "/v1/voucherlist", params={"voucherType": "purchaseinvoice", "voucherStatus": "open"}
    ).json()["content"][0]
    assert row["voucherNumber"] == "LIEF-2024-0815" and row["totalAmount"] == 119.0
    assert row["dueDate"] == "2024-03-31"


def test_an_upload_whose_answer_is_lost_is_still_attached(
    sandbox_url: str, client: httpx.Client
) -> None:
    """``drop_response_after_commit`` on the upload: the caller hears 504, and the voucher's
    ``files`` shows the upload happened (so a connector checks before uploading again)."""
    voucher_id = _voucher(client)
    fault = {
        "system": "lexware",
        "path_pattern": rf"/v1/vouchers/{voucher_id}/files$",
        "kind": "drop_response_after_commit",
        "count": 1,
        "method": "POST",
    }
    assert httpx.post(f"{sandbox_url}/_sandbox/faults", json=fault).status_code == 201
    lost = upload(client, f"/v1/vouchers/{voucher_id}/files", PDF, "application/pdf")
    assert lost.status_code == 504
    files = client.get(f"/v1/vouchers/{voucher_id}").json()["files"]
    assert len(files) == 1 and client.get(f"/v1/files/{files[0]}").content == PDF


def test_payment_state_of_purchase_kinds(client: httpx.Client) -> None:
    """A supplier's bill is money owed (``openExpense``); its credit note is owed to us."""
    outgo = categories(client, "outgo")[0]
    bill = client.get(f"/v1/payments/{_voucher(client)}").json()
    assert (bill["openAmount"], bill["paymentStatus"]) == (119.0, "openExpense")
    assert bill["voucherType"] == "purchaseinvoice"
    credit = client.post("/v1/vouchers", json=purchase(None, outgo, kind="purchasecreditnote"))
    state = client.get(f"/v1/payments/{credit.json()['id']}").json()
    assert (state["openAmount"], state["paymentStatus"]) == (119.0, "openRevenue")
