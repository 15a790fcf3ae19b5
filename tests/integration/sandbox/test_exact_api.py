"""Exact emulator REST API: envelope, accounts, sales entries, numbering, paging, payments."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from invoicesync_sandbox.settings import SandboxSettings
from tests.support.servers import sandbox_config

API = "/exact/api/v1"
Json = dict[str, Any]


@pytest.fixture(scope="module")
def sandbox_settings() -> SandboxSettings:
    """Generous limits: these tests make more than 60 calls per division and minute."""
    return sandbox_config(exact_minutely_limit=10_000, exact_daily_limit=100_000)


@pytest.fixture(scope="module")
def http(sandbox_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def token(http: httpx.Client) -> str:
    app = http.get("/_sandbox/demo").json()["exact"]["test_app"]
    auth = http.get(
        "/exact/api/oauth2/auth",
        params={"client_id": app["client_id"], "redirect_uri": app["redirect_uri"]},
    )
    code = parse_qs(urlsplit(auth.headers["location"]).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, **app}
    access: str = http.post("/exact/api/oauth2/token", data=form).json()["access_token"]
    return access


@pytest.fixture
def api(http: httpx.Client, token: str) -> httpx.Client:
    http.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
    return http


@pytest.fixture
def division(http: httpx.Client) -> Json:
    """A fresh division per test, so numbering and state start empty."""
    answer = http.post("/_sandbox/exact/divisions", json={"description": "Test company"})
    assert answer.status_code == 201
    created: Json = answer.json()
    return created


def gl(division: Json, code: str) -> str:
    ident: str = next(g["id"] for g in division["gl_accounts"] if g["code"] == code)
    return ident


def create_customer(api: httpx.Client, division: Json, **fields: Any) -> Json:
    body = {"Name": "Acme BV", "Status": "C", **fields}
    answer = api.post(f"{API}/{division['division']}/crm/Accounts", json=body)
    assert answer.status_code == 201, answer.text
    entity: Json = answer.json()["d"]
    return entity


def post_entry(
    api: httpx.Client, division: Json, customer: str, amount: str = "100.00", **fields: Any
) -> httpx.Response:
    body = {
        "Journal": "70",
        "Customer": customer,
        "EntryDate": "2024-03-01T00:00:00Z",
        "YourRef": "INV-1",
        "Type": 20,
        "SalesEntryLines": [
            {"GLAccount": gl(division, "8000"), "AmountFC": amount, "VATCode": "2  "}
        ],
        **fields,
    }
    return api.post(f"{API}/{division['division']}/salesentry/SalesEntries", json=body)


def results(answer: httpx.Response) -> list[Json]:
    assert answer.status_code == 200, answer.text
    rows: list[Json] = answer.json()["d"]["results"]
    return rows


def test_me_answers_without_a_division_and_honours_select(api: httpx.Client) -> None:
    demo = api.get("/_sandbox/demo").json()["exact"]
    rows = results(api.get(f"{API}/current/Me", params={"$select": "CurrentDivision"}))
    assert rows[0]["CurrentDivision"] == demo["division"]
    assert set(rows[0]) == {"__metadata", "CurrentDivision"}
    divisions = results(api.get(f"{API}/{demo['division']}/system/Divisions"))
    assert demo["division"] in [d["Code"] for d in divisions]


def test_missing_token_is_401_and_foreign_division_is_403(
    http: httpx.Client, api: httpx.Client, division: Json
) -> None:
    anonymous = httpx.get(f"{http.base_url}{API}/current/Me")
    assert anonymous.status_code == 401
    assert set(anonymous.json()["error"]) == {"code", "message"}
    foreign = api.get(f"{API}/999/crm/Accounts")
    assert foreign.status_code == 403
    assert foreign.headers["Reason"] == "NoDivisionAccess"
    api.post(f"/_sandbox/exact/divisions/{division['division']}/access", json={"granted": False})
    assert api.get(f"{API}/{division['division']}/crm/Accounts").status_code == 403


def test_master_data_journals_gl_accounts_and_vat_codes(api: httpx.Client, division: Json) -> None:
    base = f"{API}/{division['division']}"
    journals = results(api.get(f"{base}/financial/Journals", params={"$filter": "Code eq '70'"}))
    assert [(j["Code"], j["Type"]) for j in journals] == [("70", 20)]
    revenue = results(api.get(f"{base}/financial/GLAccounts", params={"$filter": "Type eq 110"}))
    assert {g["Code"] for g in revenue} == {"8000", "8010", "8020"}
    vat = {v["Code"]: v["Percentage"] for v in results(api.get(f"{base}/vat/VATCodes"))}
    assert vat == {"0  ": 0, "1  ": 0.09, "2  ": 0.21}


def test_account_code_is_padded_and_an_unpadded_filter_finds_nothing(
    api: httpx.Client, division: Json
) -> None:
    created = create_customer(api, division, Code="123", VATNumber="NL001234567B01")
    assert created["Code"] == " " * 15 + "123"
    assert re.fullmatch(r"/Date\(\d+\)/", created["Created"])
    assert created["__metadata"]["uri"].endswith(f"crm/Accounts(guid'{created['ID']}')")
    url = f"{API}/{division['division']}/crm/Accounts"
    assert results(api.get(url, params={"$filter": "Code eq '123'"})) == []
    padded = results(api.get(url, params={"$filter": f"Code eq '{'123':>18}'"}))
    assert [a["ID"] for a in padded] == [created["ID"]]
    by_vat = results(api.get(url, params={"$filter": "VATNumber eq 'NL001234567B01'"}))
    assert [a["Name"] for a in by_vat] == ["Acme BV"]
    put = api.put(f"{url}(guid'{created['ID']}')", json={"Name": "Acme Holding"})
    assert put.status_code == 204 and put.content == b""
    assert api.get(f"{url}(guid'{created['ID']}')").json()["d"]["Name"] == "Acme Holding"


def test_entry_numbers_are_last_plus_one_and_come_back_after_delete(
    api: httpx.Client, division: Json
) -> None:
    customer = create_customer(api, division)["ID"]
    numbers = []
    for _ in range(3):
        answer = post_entry(api, division, customer)
        assert answer.status_code == 201, answer.text
        numbers.append(answer.json()["d"]["EntryNumber"])
    assert numbers == [24700001, 24700002, 24700003]
    last = post_entry(api, division, customer).json()["d"]
    url = f"{API}/{division['division']}/salesentry/SalesEntries"
    deleted = api.delete(f"{url}(guid'{last['EntryID']}')")
    assert deleted.status_code == 204 and deleted.content == b""
    assert api.get(f"{url}(guid'{last['EntryID']}')").status_code == 404
    again = post_entry(api, division, customer).json()["d"]
    assert again["EntryNumber"] == last["EntryNumber"] == 24700004
    assert again["EntryID"] != last["EntryID"]


def test_sales_entry_amounts_include_vat_and_dates_go_out_as_odata(
    api: httpx.Client, division: Json
) -> None:
    customer = create_customer(api, division)["ID"]
    entry = post_entry(api, division, customer, amount="100.00").json()["d"]
    assert entry["AmountFC"] == 121 and entry["VATAmountFC"] == 21
    when = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)
    assert entry["EntryDate"] == f"/Date({when})/"
    lines = entry["SalesEntryLines"]["results"]
    assert lines[0]["VATCode"] == "2  " and lines[0]["AmountFC"] == 100
    override = post_entry(
        api,
        division,
        customer,
        SalesEntryLines=[
            {"GLAccount": gl(division, "8000"), "AmountFC": 50, "VATAmountFC": "10.00"}
        ],
    ).json()["d"]
    assert override["AmountFC"] == 60
    credit = post_entry(api, division, customer, amount="-40.00", Type=21).json()["d"]
    assert credit["AmountFC"] == -48.4 and credit["Type"] == 21


def test_validation_errors_use_the_exact_error_body(api: httpx.Client, division: Json) -> None:
    customer = create_customer(api, division)["ID"]
    bad_journal = post_entry(api, division, customer, Journal="99")
    assert bad_journal.status_code == 400
    assert bad_journal.json() == {
        "error": {"code": "", "message": {"lang": "", "value": "Invalid reference: Journal"}}
    }
    unknown = "00000000-0000-0000-0000-000000000001"
    assert "Customer" in post_entry(api, division, unknown).json()["error"]["message"]["value"]
    bad_gl = post_entry(
        api, division, customer, SalesEntryLines=[{"GLAccount": unknown, "AmountFC": 1}]
    )
    assert bad_gl.json()["error"]["message"]["value"] == "Invalid reference: GLAccount"
    bad_vat = post_entry(
        api,
        division,
        customer,
        SalesEntryLines=[{"GLAccount": gl(division, "8000"), "AmountFC": 1, "VATCode": "9"}],
    )
    assert bad_vat.json()["error"]["message"]["value"] == "Invalid reference: VATCode"
    state = api.get(f"/_sandbox/exact/divisions/{division['division']}").json()
    assert state["entries"] == []


def entry_url(division: Json, entry_id: str) -> str:
    return f"{API}/{division['division']}/salesentry/SalesEntries(guid'{entry_id}')"


def refusal(answer: httpx.Response) -> str:
    """The message of a 400 in Exact's OData error body (and nothing else in it)."""
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert set(body) == {"error"} and body["error"]["code"] == ""
    assert set(body["error"]["message"]) == {"lang", "value"}
    message: str = body["error"]["message"]["value"]
    return message


def test_a_currency_that_is_no_iso_4217_code_is_refused(api: httpx.Client, division: Json) -> None:
    customer = create_customer(api, division)["ID"]
    assert "Currency" in refusal(post_entry(api, division, customer, Currency="EUX"))
    assert "Currency" in refusal(post_entry(api, division, customer, Currency="eur"))
    booked = post_entry(api, division, customer, Currency="USD")
    assert booked.status_code == 201 and booked.json()["d"]["Currency"] == "USD"
    url = entry_url(division, booked.json()["d"]["EntryID"])
    assert "Currency" in refusal(api.put(url, json={"Currency": "ABC", "YourRef": "X"}))
    kept = api.get(url).json()["d"]
    assert kept["Currency"] == "USD" and kept["YourRef"] == "INV-1"


def test_dates_before_1900_or_after_2099_are_refused(api: httpx.Client, division: Json) -> None:
    customer = create_customer(api, division)["ID"]
    for name, value in (
        ("EntryDate", "1899-12-31T00:00:00Z"),
        ("EntryDate", "2100-01-01T00:00:00Z"),
        ("DueDate", "2100-01-01"),
    ):
        assert name in refusal(post_entry(api, division, customer, **{name: value}))
    first = post_entry(api, division, customer, EntryDate="1900-01-01T00:00:00Z")
    last = post_entry(api, division, customer, EntryDate="2099-12-31T00:00:00Z")
    assert first.status_code == last.status_code == 201
    url = (
        f"{API}/{division['division']}/salesentry/SalesEntries(guid'{last.json()['d']['EntryID']}')"
    )
    assert "EntryDate" in refusal(api.put(url, json={"EntryDate": "2100-01-01T00:00:00Z"}))
    assert "DueDate" in refusal(api.put(url, json={"DueDate": "1899-12-31T00:00:00Z"}))
    assert api.put(url, json={"EntryDate": "2099-12-30T00:00:00Z"}).status_code == 204


def test_line_amounts_beyond_cents_or_below_10_13_are_refused(
    api: httpx.Client, division: Json
) -> None:
    customer = create_customer(api, division)["ID"]
    for amount in ("100.001", "10000000000000", "-10000000000000.00"):
        assert "AmountFC" in refusal(post_entry(api, division, customer, amount=amount))
    line = {"GLAccount": gl(division, "8000"), "AmountFC": "1.00", "AmountDC": "1.005"}
    assert "AmountDC" in refusal(post_entry(api, division, customer, SalesEntryLines=[line]))
    assert api.get(f"/_sandbox/exact/divisions/{division['division']}").json()["entries"] == []
    for amount in ("9999999999999.99", "-9999999999999.99", "100.10", "7.500"):
        booked = post_entry(api, division, customer, amount=amount)
        assert booked.status_code == 201, booked.text
    lines = f"{API}/{division['division']}/salesentry/SalesEntryLines"
    extra = {"EntryID": booked.json()["d"]["EntryID"], "GLAccount": gl(division, "8000")}
    assert "AmountFC" in refusal(api.post(lines, json={**extra, "AmountFC": 0.125}))
    assert api.post(lines, json={**extra, "AmountFC": 0.12}).status_code == 201


def test_blocked_customer_cannot_be_booked(api: httpx.Client, division: Json) -> None:
    customer = create_customer(api, division)["ID"]
    blocked = api.post(
        f"/_sandbox/exact/divisions/{division['division']}/accounts/{customer}/block", json={}
    )
    assert blocked.json()["blocked"] is True
    assert post_entry(api, division, customer).status_code == 400


def test_sales_entry_filters_select_and_single_get(api: httpx.Client, division: Json) -> None:
    customer = create_customer(api, division)["ID"]
    first = post_entry(api, division, customer, YourRef="A-1").json()["d"]
    second = post_entry(api, division, customer, YourRef="B-2").json()["d"]
    url = f"{API}/{division['division']}/salesentry/SalesEntries"
    by_id = results(api.get(url, params={"$filter": f"EntryID eq guid'{second['EntryID']}'"}))
    assert [e["YourRef"] for e in by_id] == ["B-2"]
    by_ref = results(api.get(url, params={"$filter": "YourRef eq 'A-1'", "$select": "EntryID"}))
    assert by_ref == [{"__metadata": by_ref[0]["__metadata"], "EntryID": first["EntryID"]}]
    combined = f"Journal eq '70' and EntryNumber eq {second['EntryNumber']}"
    assert [e["EntryID"] for e in results(api.get(url, params={"$filter": combined}))] == [
        second["EntryID"]
    ]
    single = api.get(f"{url}(guid'{first['EntryID']}')").json()["d"]
    assert single["YourRef"] == "A-1"
    assert "__deferred" in single["SalesEntryLines"]
    bad = api.get(url, params={"$filter": "Nope eq 1"})
    assert bad.status_code == 400 and "Nope" in bad.json()["error"]["message"]["value"]


def test_collections_page_by_60_with_next_links(api: httpx.Client, division: Json) -> None:
    for number in range(61):
        create_customer(api, division, Code=str(number + 1), Name=f"Customer {number}")
    url = f"{API}/{division['division']}/crm/Accounts"
    first = api.get(url, params={"$select": "ID,Code"}).json()["d"]
    assert len(first["results"]) == 60
    assert "$skiptoken=guid'" in first["__next"]
    second = api.get(first["__next"]).json()["d"]
    assert [row["Code"].strip() for row in second["results"]] == ["61"]
    assert "__next" not in second
    top = api.get(url, params={"$top": "5"}).json()["d"]
    assert len(top["results"]) == 5 and "__next" not in top


def test_deleting_the_last_line_deletes_the_entry(api: httpx.Client, division: Json) -> None:
    customer = create_customer(api, division)["ID"]
    entry = post_entry(api, division, customer).json()["d"]
    base = f"{API}/{division['division']}/salesentry"
    added = api.post(
        f"{base}/SalesEntryLines",
        json={"EntryID": entry["EntryID"], "GLAccount": gl(division, "8010"), "AmountFC": "10"},
    )
    assert added.status_code == 201 and added.json()["d"]["VATAmountFC"] == 0.9
    assert (
        api.get(f"{base}/SalesEntries(guid'{entry['EntryID']}')").json()["d"]["AmountFC"] == 131.9
    )
    lines = results(
        api.get(
            f"{base}/SalesEntryLines", params={"$filter": f"EntryID eq guid'{entry['EntryID']}'"}
        )
    )
    assert len(lines) == 2
    for line in lines:
        assert api.delete(f"{base}/SalesEntryLines(guid'{line['ID']}')").status_code == 204
    assert api.get(f"{base}/SalesEntries(guid'{entry['EntryID']}')").status_code == 404


def test_payment_read_back(api: httpx.Client, division: Json) -> None:
    customer = create_customer(api, division)["ID"]
    entry = post_entry(api, division, customer).json()["d"]
    base = f"{API}/{division['division']}"
    open_items = results(api.get(f"{base}/read/financial/ReceivablesList"))
    assert [(r["EntryNumber"], r["Amount"]) for r in open_items] == [(entry["EntryNumber"], 121)]
    filter_ = f"TransactionEntryID eq guid'{entry['EntryID']}'"
    before = results(api.get(f"{base}/cashflow/Receivables", params={"$filter": filter_}))
    assert (before[0]["Status"], before[0]["IsFullyPaid"]) == (20, False)
    paid = api.post(
        f"/_sandbox/exact/divisions/{division['division']}/entries/{entry['EntryID']}/payment",
        json={},
    )
    assert paid.status_code == 200 and paid.json()["is_fully_paid"] is True
    assert results(api.get(f"{base}/read/financial/ReceivablesList")) == []
    after = results(api.get(f"{base}/cashflow/Receivables", params={"$filter": filter_}))
    assert (after[0]["Status"], after[0]["IsFullyPaid"]) == (50, True)


def test_control_plane_state_lists_entries_and_accounts(api: httpx.Client, division: Json) -> None:
    customer = create_customer(api, division, Code="7")["ID"]
    entry = post_entry(api, division, customer, YourRef="REF-7").json()["d"]
    state = api.get(f"/_sandbox/exact/divisions/{division['division']}").json()
    assert [a["code"].strip() for a in state["accounts"]] == ["7"]
    assert [(e["entry_number"], e["your_ref"], e["journal"]) for e in state["entries"]] == [
        (entry["EntryNumber"], "REF-7", "70")
    ]


def test_an_entry_has_a_read_only_page_and_a_deleted_one_is_not_found(
    api: httpx.Client, division: Json
) -> None:
    """What the console's "open in the accounting system" shows under the sandbox."""
    customer = create_customer(api, division)["ID"]
    entry = post_entry(api, division, customer, YourRef="REF-8").json()["d"]
    page = api.get(f"/_sandbox/exact/divisions/{division['division']}/entries/{entry['EntryID']}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f"sales entry {entry['EntryNumber']}</h1>" in page.text and "REF-8" in page.text
    url = f"{API}/{division['division']}/salesentry/SalesEntries(guid'{entry['EntryID']}')"
    assert api.delete(url).status_code == 204
    gone = api.get(f"/_sandbox/exact/divisions/{division['division']}/entries/{entry['EntryID']}")
    assert gone.status_code == 404 and "deleted or never booked" in gone.text


async def test_concurrent_posts_get_distinct_consecutive_numbers(
    api: httpx.Client, division: Json
) -> None:
    customer = create_customer(api, division)["ID"]
    body = {
        "Journal": "70",
        "Customer": customer,
        "EntryDate": "2025-01-15",
        "SalesEntryLines": [
            {"GLAccount": gl(division, "8000"), "AmountFC": "1.00", "Quantity": "2"}
        ],
    }
    url = f"{API}/{division['division']}/salesentry/SalesEntries"
    async with httpx.AsyncClient(base_url=str(api.base_url), headers=api.headers) as client:
        answers = await asyncio.gather(*(client.post(url, json=body) for _ in range(10)))
    assert all(a.status_code == 201 for a in answers)
    numbers = sorted(a.json()["d"]["EntryNumber"] for a in answers)
    assert numbers == list(range(25700001, 25700011))
    line = answers[0].json()["d"]["SalesEntryLines"]["results"][0]
    assert line["Quantity"] == 2


def test_a_late_visible_entry_is_booked_but_hidden_from_every_read_until_its_delay(
    http: httpx.Client, api: httpx.Client, division: Json
) -> None:
    """drop_response_visible_late: the entry is committed, its answer is lost, and the
    REST API shows it to no read until delay_seconds of sandbox time have passed."""
    code = division["division"]
    customer = create_customer(api, division)["ID"]
    fault = {
        "system": "exact",
        "path_pattern": "salesentry/SalesEntries",
        "method": "POST",
        "kind": "drop_response_visible_late",
        "delay_seconds": 60,
    }
    armed = http.post("/_sandbox/faults", json=fault)
    assert armed.status_code == 201 and armed.json()["delay_seconds"] == 60

    assert post_entry(api, division, customer, YourRef="LATE-1").status_code == 504

    [booked] = http.get(f"/_sandbox/exact/divisions/{code}").json()["entries"]
    assert booked["your_ref"] == "LATE-1"  # the books hold it
    entry = f"guid'{booked['entry_id']}'"
    by_ref = {"$filter": "YourRef eq 'LATE-1' and Journal eq '70'"}
    reads = [
        (f"{API}/{code}/salesentry/SalesEntries", by_ref),
        (f"{API}/{code}/salesentry/SalesEntryLines", {}),
        (f"{API}/{code}/read/financial/ReceivablesList", {}),
        (f"{API}/{code}/cashflow/Receivables", {}),
    ]
    assert all(results(api.get(path, params=query)) == [] for path, query in reads)
    assert api.get(f"{API}/{code}/salesentry/SalesEntries({entry})").status_code == 404
    assert post_entry(api, division, customer, YourRef="LATE-2").status_code == 201  # numbered on

    http.post("/_sandbox/clock/advance", json={"seconds": 61})

    assert [len(results(api.get(path, params=query))) for path, query in reads] == [1, 2, 2, 2]
    seen = api.get(f"{API}/{code}/salesentry/SalesEntries({entry})")
    assert seen.status_code == 200 and seen.json()["d"]["YourRef"] == "LATE-1"


def test_a_journal_without_entries_can_be_deleted_one_with_entries_cannot(
    api: httpx.Client, division: Json
) -> None:
    """The control acts as Exact's journal settings do; a deleted journal is gone from the
    list and a sales entry naming it is refused."""

    def journal(of: Json, code: str) -> str:
        return f"/_sandbox/exact/divisions/{of['division']}/journals/{code}"

    customer = create_customer(api, division)["ID"]
    assert post_entry(api, division, customer).status_code == 201
    assert api.delete(journal(division, "70")).status_code == 409
    other = api.post("/_sandbox/exact/divisions", json={}).json()
    assert api.delete(journal(other, "70")).status_code == 200
    base = f"{API}/{other['division']}"
    journals = results(api.get(f"{base}/financial/Journals"))
    assert "70" not in {j["Code"] for j in journals}
    refused = post_entry(api, other, create_customer(api, other)["ID"])
    assert refused.status_code == 400 and "Journal" in refused.text
    assert api.delete(journal(division, "99")).status_code == 404


def test_an_entry_typed_and_changed_by_a_bookkeeper(
    api: httpx.Client, http: httpx.Client, division: Json
) -> None:
    """What a bookkeeper does in Exact's screens, for reconciliation tests: an entry typed
    with an existing customer (numbered in its journal), then its amount, date and
    customer changed; the API reads what they did."""
    create_customer(api, division, Name="Acme BV")
    other = create_customer(api, division, Name="Bakker BV", Code="8")
    control = f"/_sandbox/exact/divisions/{division['division']}/entries"
    body = {"customer": "acme bv", "entry_date": "2024-03-05", "net_amount": "100.00"}
    typed = http.post(control, json={**body, "your_ref": "PO 4471"})
    assert typed.status_code == 201, typed.text
    entry = typed.json()
    assert (entry["journal"], entry["amount"], entry["your_ref"]) == ("70", "121.00", "PO 4471")
    unknown = http.post(control, json={**body, "customer": "Nobody"})
    assert unknown.status_code == 404, unknown.text
    changed = http.post(
        f"{control}/{entry['entry_id']}/edit",
        json={"net_amount": "200.00", "entry_date": "2024-03-09", "customer": "Bakker BV"},
    )
    assert changed.status_code == 200, changed.text
    base = f"{API}/{division['division']}"
    (row,) = results(api.get(f"{base}/salesentry/SalesEntries"))
    assert (row["EntryNumber"], row["AmountDC"], row["VATAmountDC"]) == (
        entry["entry_number"],
        242,
        42,
    )
    assert (row["Customer"], row["YourRef"]) == (other["ID"], "PO 4471")
    assert row["EntryDate"] == "/Date(1709942400000)/"
