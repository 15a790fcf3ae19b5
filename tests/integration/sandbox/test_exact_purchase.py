"""Exact emulator purchase side: purchase entries, documents and their attachments, with
the numbering, paging, refusals, limits and faults the sales side has (issue 24)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx

from tests.integration.sandbox import test_exact_api as sales
from tests.integration.sandbox.test_exact_api import API, Json, create_customer, gl, results

# The sales tests' stack and fixtures: the same sandbox, app token and fresh divisions.
sandbox_settings = sales.sandbox_settings
http = sales.http
token = sales.token
api = sales.api
division = sales.division

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"


def error(answer: httpx.Response) -> str:
    body: Json = answer.json()
    assert set(body["error"]) == {"code", "message"}
    message: str = body["error"]["message"]["value"]
    return message


def create_supplier(api: httpx.Client, division: Json, name: str = "Paper Supplies BV") -> str:
    supplier: str = create_customer(api, division, Name=name, IsSupplier=True)["ID"]
    return supplier


def post_purchase(
    api: httpx.Client, division: Json, supplier: str, amount: str = "100.00", **fields: Any
) -> httpx.Response:
    body = {
        "Journal": "60",
        "Supplier": supplier,
        "EntryDate": "2024-03-01T00:00:00Z",
        "YourRef": "SUP-1",
        "Type": 30,
        "PurchaseEntryLines": [
            {"GLAccount": gl(division, "7000"), "AmountFC": amount, "VATCode": "2  "}
        ],
        **fields,
    }
    return api.post(f"{API}/{division['division']}/purchaseentry/PurchaseEntries", json=body)


def post_document(api: httpx.Client, division: Json, supplier: str) -> str:
    base = f"{API}/{division['division']}/documents"
    body = {"Subject": "SUP-1", "Type": 20, "Account": supplier, "DocumentDate": "2024-03-01"}
    created = api.post(f"{base}/Documents", json=body)
    assert created.status_code == 201, created.text
    document: str = created.json()["d"]["ID"]
    return document


def attach(api: httpx.Client, division: Json, document: str, content: object) -> httpx.Response:
    body = {"Document": document, "FileName": "sup-1.pdf", "Attachment": content}
    return api.post(f"{API}/{division['division']}/documents/DocumentAttachments", json=body)


def test_a_purchase_entry_with_its_document_attached(
    http: httpx.Client, api: httpx.Client, division: Json
) -> None:
    code = division["division"]
    supplier = create_supplier(api, division)
    document = post_document(api, division, supplier)
    attached = attach(api, division, document, base64.b64encode(PDF).decode())
    assert attached.status_code == 201, attached.text

    created = post_purchase(api, division, supplier, Document=document)
    assert created.status_code == 201, created.text
    entry = created.json()["d"]
    assert (entry["EntryNumber"], entry["Type"], entry["TypeDescription"]) == (
        24600001,
        30,
        "Purchase entry",
    )
    assert (entry["SupplierName"], entry["Document"], entry["YourRef"]) == (
        "Paper Supplies BV",
        document,
        "SUP-1",
    )
    assert entry["AmountDC"] == 121.0 and entry["VATAmountDC"] == 21.0
    [line] = entry["PurchaseEntryLines"]["results"]
    assert line["GLAccount"] == gl(division, "7000") and line["VATPercentage"] == 0.21

    [listed] = results(api.get(f"{API}/{code}/documents/DocumentAttachments"))
    assert {k: listed[k] for k in ("Document", "FileName", "FileSize")} == {
        "Document": document,
        "FileName": "sup-1.pdf",
        "FileSize": len(PDF),
    }
    assert listed["Url"]
    [doc] = results(api.get(f"{API}/{code}/documents/Documents"))
    assert doc["FinancialTransactionEntryID"] == entry["EntryID"]
    lines = results(api.get(f"{API}/{code}/purchaseentry/PurchaseEntryLines"))
    assert [ln["EntryID"] for ln in lines] == [entry["EntryID"]]

    state = http.get(f"/_sandbox/exact/divisions/{code}").json()
    [booked] = state["purchase_entries"]
    assert (booked["entry_number"], booked["journal"], booked["document"]) == (
        24600001,
        "60",
        document,
    )
    assert state["documents"][0]["attachments"][0]["file_size"] == len(PDF)
    assert state["entries"] == []  # nothing on the sales side


def test_a_purchase_credit_note_is_type_31_and_sales_types_are_refused(
    api: httpx.Client, division: Json
) -> None:
    supplier = create_supplier(api, division)
    credit = post_purchase(api, division, supplier, amount="-50.00", Type=31, YourRef="CN-1")
    assert credit.status_code == 201, credit.text
    body = credit.json()["d"]
    assert (body["Type"], body["TypeDescription"], body["AmountDC"]) == (
        31,
        "Purchase credit note",
        -60.5,
    )
    sales_type = post_purchase(api, division, supplier, Type=20)
    assert sales_type.status_code == 400 and error(sales_type) == "Invalid value: Type"


def test_unknown_supplier_journal_gl_account_and_document_are_refused(
    api: httpx.Client, division: Json
) -> None:
    supplier = create_supplier(api, division)
    customer = create_customer(api, division, Name="Only A Customer")["ID"]
    unknown = str(uuid.uuid4())
    line = {"GLAccount": unknown, "AmountFC": "1.00"}
    revenue = {"GLAccount": gl(division, "8000"), "AmountFC": "1.00"}
    cases = [
        ({"Supplier": unknown}, "Invalid reference: Supplier"),
        ({"Supplier": customer}, "Not a supplier"),
        ({"Journal": "99"}, "Invalid reference: Journal"),
        ({"Journal": "70"}, "Invalid journal. The journal must be a purchase journal."),
        ({"PurchaseEntryLines": [line]}, "Invalid reference: GLAccount"),
        ({"PurchaseEntryLines": [revenue]}, "Invalid: G/L account type"),
        ({"Document": unknown}, "Invalid reference: Document"),
        ({"PurchaseEntryLines": []}, "Mandatory: PurchaseEntryLines"),
    ]
    for fields, message in cases:
        answer = post_purchase(api, division, supplier, **fields)
        assert answer.status_code == 400, (fields, answer.text)
        assert error(answer).startswith(message), (fields, answer.text)
    refused = post_purchase(api, division, supplier, Supplier=unknown)
    assert refused.json() == {
        "error": {"code": "", "message": {"lang": "", "value": "Invalid reference: Supplier"}}
    }
    base = f"{API}/{division['division']}"
    assert results(api.get(f"{base}/purchaseentry/PurchaseEntries")) == []


def test_an_attachment_must_be_base64_and_at_most_25_mb(api: httpx.Client, division: Json) -> None:
    supplier = create_supplier(api, division)
    document = post_document(api, division, supplier)
    for bad in ("not base64 at all!", 12345):
        answer = attach(api, division, document, bad)
        assert answer.status_code == 400
        assert error(answer) == (
            "Error processing request stream. Error encountered in converting the value from "
            "request payload for property 'Attachment' to type 'Byte[]'"
        )
    too_big = base64.b64encode(bytes(25 * 1024 * 1024 + 1)).decode()
    answer = attach(api, division, document, too_big)
    assert answer.status_code == 413 and "maximum size" in error(answer)
    just_fits = base64.b64encode(bytes(25 * 1024 * 1024)).decode()
    assert attach(api, division, document, just_fits).status_code == 201
    orphan = attach(api, division, str(uuid.uuid4()), base64.b64encode(PDF).decode())
    assert orphan.status_code == 400 and error(orphan) == "Invalid reference: Document"


def test_entry_numbers_run_per_purchase_journal(api: httpx.Client, division: Json) -> None:
    supplier = create_supplier(api, division)
    customer = create_customer(api, division)["ID"]
    numbers = [
        post_purchase(api, division, supplier, Journal=journal).json()["d"]["EntryNumber"]
        for journal in ("60", "60", "61", "60")
    ]
    assert numbers == [24600001, 24600002, 24610001, 24600003]
    sales = {
        "Journal": "70",
        "Customer": customer,
        "EntryDate": "2024-03-01T00:00:00Z",
        "SalesEntryLines": [{"GLAccount": gl(division, "8000"), "AmountFC": "1.00"}],
    }
    sold = api.post(f"{API}/{division['division']}/salesentry/SalesEntries", json=sales)
    assert sold.json()["d"]["EntryNumber"] == 24700001
    taken = post_purchase(api, division, supplier, EntryNumber=24600002)
    assert taken.status_code == 400
    assert error(taken) == "Entry number 24600002 already exists in journal 60"


def test_purchase_entries_page_by_60_and_filter_like_sales(
    api: httpx.Client, division: Json
) -> None:
    supplier = create_supplier(api, division)
    for number in range(61):
        assert post_purchase(api, division, supplier, YourRef=f"P-{number}").status_code == 201
    url = f"{API}/{division['division']}/purchaseentry/PurchaseEntries"
    first = api.get(url, params={"$select": "EntryID,YourRef"}).json()["d"]
    assert len(first["results"]) == 60 and set(first["results"][0]) == {
        "__metadata",
        "EntryID",
        "YourRef",
    }
    assert "$skiptoken=guid'" in first["__next"]
    second = api.get(first["__next"]).json()["d"]
    assert [row["YourRef"] for row in second["results"]] == ["P-60"]
    found = results(api.get(url, params={"$filter": "YourRef eq 'P-7' and Journal eq '60'"}))
    assert [row["EntryNumber"] for row in found] == [24600008]


def test_faults_rate_limits_and_error_blocks_reach_the_purchase_paths(
    http: httpx.Client, api: httpx.Client, division: Json
) -> None:
    supplier = create_supplier(api, division)
    for path in ("purchaseentry/PurchaseEntries", "documents/DocumentAttachments"):
        fault = {"system": "exact", "path_pattern": path, "method": "POST", "kind": "http_500"}
        assert http.post("/_sandbox/faults", json=fault).status_code == 201
    document = post_document(api, division, supplier)
    content = base64.b64encode(PDF).decode()
    assert attach(api, division, document, content).status_code == 500
    assert attach(api, division, document, content).status_code == 201
    faulted = post_purchase(api, division, supplier)
    assert faulted.status_code == 500
    booked = post_purchase(api, division, supplier)
    assert booked.status_code == 201 and "X-RateLimit-Minutely-Remaining" in booked.headers

    threshold = http.get("/_sandbox/exact/limits").json()["error_threshold"]
    for _ in range(threshold + 1):
        assert post_purchase(api, division, str(uuid.uuid4())).status_code == 400
    assert post_purchase(api, division, supplier).status_code == 429
    blocks = http.get("/_sandbox/exact/limits").json()["blocks"]
    assert {"division": division["division"], "endpoint": "purchaseentry/PurchaseEntries"} in [
        {"division": b["division"], "endpoint": b["endpoint"]} for b in blocks
    ]


def test_the_demo_division_has_purchase_journals_and_suppliers(api: httpx.Client) -> None:
    demo = api.get("/_sandbox/demo").json()["exact"]
    assert demo["purchase_journal"] == "60"
    state = api.get(f"/_sandbox/exact/divisions/{demo['division']}").json()
    suppliers = [a for a in state["accounts"] if a["is_supplier"]]
    assert [a["code"].strip() for a in suppliers] == ["S1001", "S1002"]
    assert {(j["code"], j["type"]) for j in state["journals"]} >= {("60", 22), ("61", 22)}
    booked = post_purchase(api, state, suppliers[0]["id"], YourRef="DEMO-1")
    assert booked.status_code == 201, booked.text
    assert booked.json()["d"]["SupplierName"] == "Kantoorartikelen Jansen BV"


def test_what_is_owed_to_a_supplier_is_settled_in_cashflow_payments(
    api: httpx.Client, division: Json
) -> None:
    """One cashflow/Payments row per purchase entry: Status 20 until payments cover it,
    then 50 (matched) with its EndDate; unlike a receivable it has no IsFullyPaid."""
    code = division["division"]
    entry = post_purchase(api, division, create_supplier(api, division), YourRef="SUP-9")
    assert entry.status_code == 201, entry.text
    entry_id = entry.json()["d"]["EntryID"]
    payments = f"{API}/{code}/cashflow/Payments"
    select = {"$select": "TransactionEntryID,Status,EndDate,YourRef"}

    [row] = results(api.get(payments, params=select))
    assert (row["TransactionEntryID"], row["Status"], row["EndDate"]) == (entry_id, 20, None)
    assert row["YourRef"] == "SUP-9"
    refused = api.get(payments, params={"$select": "TransactionEntryID,IsFullyPaid"})
    assert refused.status_code == 400, refused.text
    assert results(api.get(f"{API}/{code}/cashflow/Receivables")) == []  # not a sale

    control = f"/_sandbox/exact/divisions/{code}/entries/{entry_id}/payment"
    half = api.post(control, json={"amount": "60.50"})
    assert half.status_code == 200, half.text
    assert half.json()["payment_status"] == 20
    [row] = results(api.get(payments, params=select))
    assert row["Status"] == 20
    rest = api.post(control, json={})
    assert (rest.json()["open_amount"], rest.json()["payment_status"]) == ("0.00", 50)
    [row] = results(api.get(payments, params=select))
    assert row["Status"] == 50 and row["EndDate"] is not None
