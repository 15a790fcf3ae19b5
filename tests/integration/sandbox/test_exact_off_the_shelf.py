"""Off-the-shelf Exact Online clients, unchanged, against the sandbox's ``/exact`` host.

Two public libraries stand in for "any Exact client": ossobv's ``exactonline`` (urllib,
``Unwrap`` paging, its own rate limiter and auto-refresh) and carlospaiva's
``exact_online_sdk`` (httpx with strict pydantic models). They only ever see the sandbox
as a base URL and the demo ``test_app``; divisions and payments come from the control
plane and time moves through ``/_sandbox/clock/advance``.

Both book sales and purchases: a purchase invoice is Exact's documented chain of
documents/Documents, its DocumentAttachments (base64) and a PurchaseEntry with
``Document``. Where the SDK's models disagree with Exact (``/Date(ms)/`` dates,
``Account.Status``, the GL account and system division shapes, ``Attachment`` sent as
bytes' text rather than base64), the tests read raw and pin the library's mistake, so a
sandbox that drifted from Exact's documented properties still fails.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from exact_online_sdk import AuthenticationError, ExactOnlineClient, Settings, ValidationError
from exact_online_sdk.api import endpoints
from exact_online_sdk.auth import ExactOnlineAuth, InMemoryTokenStorage
from exact_online_sdk.exceptions import BadRequestError, NotFoundError, PartialResponseError
from exactonline import http as exact_http
from exactonline.api import ExactApi
from exactonline.elements.invoice import ExactInvoice
from exactonline.elements.relation import ExactCustomer
from exactonline.http import HTTPError
from exactonline.resource import GET, POST
from exactonline.storage.base import ExactOnlineConfig, MissingSetting

from invoicesync_sandbox.main import create_app
from invoicesync_sandbox.settings import SandboxSettings
from tests.support.servers import free_port, sandbox_config, serve_in_thread

Json = dict[str, Any]
CALLBACK = "http://127.0.0.1:9/v1/oauth/callback"
MARCH_1_2024 = "/Date(1709251200000)/"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"


@pytest.fixture(scope="module")
def sandbox_settings() -> SandboxSettings:
    """Generous limits: the paging tests make more than 60 calls per division and minute."""
    return sandbox_config(
        redirect_uri=CALLBACK, exact_minutely_limit=10_000, exact_daily_limit=100_000
    )


@pytest.fixture(scope="module", autouse=True)
def loopback_http() -> Iterator[None]:
    """ossobv's client allows only https; the loopback sandbox speaks plain http.

    This is transport, not contract: every request and answer stays as the library
    makes and reads them.
    """
    protocols = exact_http.opt_secure.protocols
    exact_http.opt_secure.protocols = ("http", "https")
    yield
    exact_http.opt_secure.protocols = protocols


@pytest.fixture(scope="module")
def http(sandbox_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def demo(http: httpx.Client) -> Json:
    exact: Json = http.get("/_sandbox/demo").json()["exact"]
    return exact


@pytest.fixture
def division(http: httpx.Client) -> int:
    """A fresh division per test: numbering, rate windows and accounts start empty."""
    answer = http.post("/_sandbox/exact/divisions", json={"description": "Off the shelf BV"})
    assert answer.status_code == 201
    code: int = answer.json()["division"]
    return code


def advance(http: httpx.Client, seconds: float) -> None:
    assert http.post("/_sandbox/clock/advance", json={"seconds": seconds}).status_code == 200


def pay(http: httpx.Client, division: int, entry_id: str) -> None:
    paid = http.post(f"/_sandbox/exact/divisions/{division}/entries/{entry_id}/payment", json={})
    assert paid.status_code == 200 and paid.json()["is_fully_paid"] is True


def code_from_consent(authorize_url: str, redirect_uri: str, state: str | None = None) -> str:
    """Open the (auto-approved) consent page; take the code from the redirect, unfollowed."""
    answer = httpx.get(authorize_url, follow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(redirect_uri)
    query = parse_qs(urlsplit(location).query)
    if state is not None:
        assert query["state"] == [state]
    return query["code"][0]


# --- ossobv/exactonline -------------------------------------------------------------


class MemoryStorage(ExactOnlineConfig):  # type: ignore[misc]
    """The library's config seam: server URLs, app credentials and its transient tokens."""

    def __init__(self, base: str, app: Json) -> None:
        self.redirect_uri: str = app["redirect_uri"]
        self.data: dict[str, dict[str, Any]] = {
            "server": {
                "auth_url": f"{base}/api/oauth2/auth",
                "rest_url": f"{base}/api",
                "token_url": f"{base}/api/oauth2/token",
            },
            "application": {"client_id": app["client_id"], "client_secret": app["client_secret"]},
            "transient": {},
        }

    def get(self, section: str, option: str) -> Any:
        try:
            return self.data[section][option]
        except KeyError as exc:
            raise MissingSetting(section, option) from exc

    def set(self, section: str, option: str, value: Any) -> None:
        self.data.setdefault(section, {})[option] = value

    def get_response_url(self) -> str:
        return self.redirect_uri


def ossobv_api(sandbox_url: str, app: Json) -> Any:
    """An authorised ``ExactApi``: auth URL → consent → code → ``request_token``."""
    api = ExactApi(storage=MemoryStorage(f"{sandbox_url}/exact", app))
    url = api.create_auth_request_url()
    assert url.startswith(f"{sandbox_url}/exact/api/oauth2/auth?client_id=")
    api.request_token(code_from_consent(url, app["redirect_uri"]))
    return api


@pytest.fixture
def eo(sandbox_url: str, demo: Json, division: int) -> Any:
    api = ossobv_api(sandbox_url, demo["test_app"])
    api.set_division(division)
    return api


class Customer(ExactCustomer):  # type: ignore[misc]
    """The library's own customer element; ``assemble`` adds its extra Account fields."""

    def get_code(self) -> str:
        return "1001"

    def get_name(self) -> str:
        return "Acme BV"

    def get_address(self) -> dict[str, str]:
        return {"AddressLine1": "Main 1", "Postcode": "1234 AB", "City": "Utrecht"}


class Invoice(ExactInvoice):  # type: ignore[misc]
    """The library's invoice element: it books lines by G/L code and picks VAT codes."""

    def __init__(self, api: Any, lines: list[Json]) -> None:
        super().__init__(api=api)
        self.lines = lines

    def get_customer(self) -> Customer:
        return Customer(api=self._api)

    def get_created_date(self) -> date:
        return date(2024, 3, 1)

    def get_exact_journal(self) -> str:
        return "70"

    def get_ledger_lines(self) -> list[Json]:
        return self.lines

    def get_invoice_number(self) -> str:
        return "INV-1"

    def get_total_vat(self) -> Decimal:
        vat = (ln["total_amount_excl_vat"] * ln["vat_percentage"] / 100 for ln in self.lines)
        return sum(vat, Decimal(0))

    def get_total_amount_incl_vat(self) -> Decimal:
        net = sum((ln["total_amount_excl_vat"] for ln in self.lines), Decimal(0))
        return net + self.get_total_vat()

    def hint_exact_invoice_number(self) -> None:
        return None


def line(code: str, amount: str, vat: int, description: str) -> Json:
    return {
        "code": code,
        "total_amount_excl_vat": Decimal(amount),
        "vat_percentage": vat,
        "description": description,
    }


def test_ossobv_authorises_discovers_divisions_and_refuses_a_foreign_one(
    http: httpx.Client, sandbox_url: str, demo: Json, division: int
) -> None:
    """get_divisions() reads current/Me and hrm/Divisions; set_division() probes the division."""
    api = ossobv_api(sandbox_url, demo["test_app"])
    storage = api.storage
    assert storage.get_refresh_token() and storage.get_access_token()
    assert 590 <= storage.get_access_expiry() - time.time() <= 600  # "600", a string
    choices, current = api.get_divisions()
    assert current == demo["division"]
    assert choices[division] == "Off the shelf BV"
    api.set_division(division)
    assert storage.get_division() == division
    foreign = http.post("/_sandbox/exact/divisions", json={"grant": False}).json()["division"]
    with pytest.raises(HTTPError) as refused:
        api.set_division(foreign)
    assert refused.value.code == 403
    assert refused.value.hdrs["Reason"] == "NoDivisionAccess"
    assert storage.get_division() == division


def test_ossobv_relations_pad_codes_and_its_customer_element_round_trips(eo: Any) -> None:
    """relations pads codes to 18 (unpadded finds nothing); ExactCustomer creates, then PUTs."""
    created = eo.relations.create({"Code": "42", "Name": "Padded BV", "Status": "C"})
    assert created["Code"] == "42".rjust(18)
    assert created["Created"].startswith("/Date(")
    found = eo.relations.get(relation_code="42")
    assert (found["ID"], found["Name"]) == (created["ID"], "Padded BV")
    assert eo.relations.filter(filter="Code eq '42'") == []

    assert Customer(api=eo).commit()["Code"] == "1001".rjust(18)  # POST → the entity in d
    assert Customer(api=eo).commit() is None  # found by code → PUT → empty body
    select = "ID,Code,City,PaymentConditionSales,IsPurchase,PaymentConditionSalesDescription"
    [customer] = eo.relations.filter(relation_code="1001", select=select)
    assert customer["City"] == "Utrecht"
    assert (customer["PaymentConditionSales"], customer["IsPurchase"]) == (15, True)
    assert customer["PaymentConditionSalesDescription"] is None  # computed by Exact, not sent
    assert eo.relations.delete(created["ID"]) is None  # DELETE → empty body
    assert eo.relations.filter(relation_code="42") == []


def test_ossobv_invoice_element_books_replaces_lines_and_reads_payment_state(
    http: httpx.Client, eo: Any, division: int
) -> None:
    """ExactInvoice posts a SalesEntry, then replaces its lines (POST new, DELETE old, PUT)."""
    assert Invoice(eo, [line("8000", "100.00", 21, "Work")]).commit()["EntryNumber"] == 24700001
    booked = eo.invoices.get(invoice_number="INV-1")  # follows the deferred SalesEntryLines
    assert (booked["AmountFC"], booked["VATAmountFC"], booked["Type"]) == (121, 21, 20)
    assert booked["EntryDate"] == MARCH_1_2024
    assert [
        (ln["GLAccountCode"], ln["AmountFC"], ln["VATCode"]) for ln in booked["SalesEntryLines"]
    ] == [("8000", 100, "2  ")]

    replacement = [line("8000", "200.00", 21, "More work"), line("8020", "50.00", 0, "Export")]
    assert Invoice(eo, replacement).commit() is None
    updated = eo.invoices.get(invoice_number="INV-1")
    assert updated["EntryID"] == booked["EntryID"] and updated["EntryNumber"] == 24700001
    assert (updated["AmountFC"], updated["VATAmountFC"]) == (292, 42)
    assert sorted(ln["Description"] for ln in updated["SalesEntryLines"]) == ["Export", "More work"]
    assert eo.invoices.map_foreign2exact_invoice_numbers(["INV-1", "INV-2"]) == {
        "INV-1": 24700001,
        "INV-2": None,
    }

    [open_item] = eo.receivables.filter(relation_id=booked["Customer"])
    assert (open_item["EntryNumber"], open_item["Amount"]) == (24700001, 292)
    pay(http, division, booked["EntryID"])
    assert eo.receivables.filter(relation_id=booked["Customer"]) == []
    entry_filter = quote(f"TransactionEntryID eq guid'{booked['EntryID']}'")
    [receivable] = eo.restv1(GET(f"cashflow/Receivables?$filter={entry_filter}"))
    assert (receivable["Status"], receivable["IsFullyPaid"]) == (50, True)

    assert eo.invoices.delete(booked["EntryID"]) is None
    assert eo.invoices.filter(invoice_number="INV-1") == []


def test_ossobv_raw_sales_entry_credit_note_and_error_body(eo: Any) -> None:
    """A raw POST returns the entity in d; errors carry error.message.value."""
    customer = eo.relations.create({"Name": "Raw BV"})
    [gl] = eo.ledgeraccounts.filter(code__in=["8000"])
    assert eo.vatcodes.get_percentage("2  ") == 0.21
    body = {
        "Journal": "70",
        "Customer": customer["ID"],
        "EntryDate": "2024-03-01T00:00:00Z",
        "YourRef": "CN-1",
        "Type": 21,
        "SalesEntryLines": [{"GLAccount": gl["ID"], "AmountFC": "-50.00", "VATCode": "2  "}],
    }
    entry = eo.restv1(POST("salesentry/SalesEntries", body))
    assert (entry["Type"], entry["AmountFC"], entry["YourRef"]) == (21, -60.5, "CN-1")
    assert [ln["VATAmountFC"] for ln in entry["SalesEntryLines"]["results"]] == [-10.5]
    expand = quote(f"EntryID eq guid'{entry['EntryID']}'")
    [read] = eo.restv1(GET(f"salesentry/SalesEntries?$filter={expand}&$expand=SalesEntryLines"))
    assert read["TypeDescription"] == "Sales credit note"
    assert [ln["AmountFC"] for ln in read["SalesEntryLines"]["results"]] == [-50]

    with pytest.raises(HTTPError) as rejected:
        eo.restv1(POST("salesentry/SalesEntries", {**body, "Journal": "99"}))
    assert rejected.value.code == 400
    error = json.loads(rejected.value.response)["error"]
    assert error == {"code": "", "message": {"lang": "", "value": "Invalid reference: Journal"}}


def test_ossobv_raw_purchase_entry_with_its_document_credit_note_and_error_body(eo: Any) -> None:
    """Exact's order for a purchase invoice: Document (type 20), its attachment, then the
    PurchaseEntry pointing at it; the document then knows its entry."""
    supplier = eo.relations.create({"Name": "Paper BV", "Status": "A", "IsSupplier": True})
    [gl] = eo.ledgeraccounts.filter(code__in=["4000"])
    document = eo.restv1(
        POST(
            "documents/Documents",
            {"Type": 20, "Account": supplier["ID"], "Subject": "Purchase invoice PI-7"},
        )
    )
    assert (document["TypeDescription"], document["FinancialTransactionEntryID"]) == (
        "Purchase invoice",
        None,
    )
    attached = {"Document": document["ID"], "FileName": "pi-7.pdf"}
    attachment = eo.restv1(
        POST(
            "documents/DocumentAttachments",
            {**attached, "Attachment": base64.b64encode(PDF).decode("ascii")},
        )
    )
    assert (attachment["FileSize"], attachment["Attachment"]) == (len(PDF), None)
    assert attachment["Url"].startswith("/docs/SysAttachment.aspx?ID=")

    body = {
        "Journal": "60",
        "Supplier": supplier["ID"],
        "EntryDate": "2024-03-01T00:00:00Z",
        "YourRef": "PI-7",
        "Type": 30,
        "Document": document["ID"],
        "PurchaseEntryLines": [
            {"GLAccount": gl["ID"], "AmountFC": "100.00", "VATCode": "2  ", "Description": "Paper"}
        ],
    }
    entry = eo.restv1(POST("purchaseentry/PurchaseEntries", body))
    assert (entry["EntryNumber"], entry["AmountFC"], entry["VATAmountFC"]) == (24600001, 121, 21)
    assert (entry["Supplier"], entry["Document"]) == (supplier["ID"], document["ID"])
    by_id = quote(f"EntryID eq guid'{entry['EntryID']}'")
    [read] = eo.restv1(
        GET(f"purchaseentry/PurchaseEntries?$filter={by_id}&$expand=PurchaseEntryLines")
    )
    assert (read["TypeDescription"], read["SupplierName"], read["EntryDate"]) == (
        "Purchase entry",
        "Paper BV",
        MARCH_1_2024,
    )
    assert read["Document"] == document["ID"]
    assert [
        (ln["GLAccountCode"], ln["AmountFC"], ln["VATAmountFC"], ln["VATCode"])
        for ln in read["PurchaseEntryLines"]["results"]
    ] == [("4000", 100, 21, "2  ")]
    document_id = quote(f"ID eq guid'{document['ID']}'")
    [linked] = eo.restv1(GET(f"documents/Documents?$filter={document_id}"))
    assert linked["FinancialTransactionEntryID"] == entry["EntryID"]
    of_document = quote(f"Document eq guid'{document['ID']}'")
    [stored] = eo.restv1(GET(f"documents/DocumentAttachments?$filter={of_document}"))
    assert (stored["ID"], stored["FileName"]) == (attachment["ID"], "pi-7.pdf")

    credit = {
        **body,
        "Type": 31,
        "YourRef": "PCN-7",
        "Document": None,
        "PurchaseEntryLines": [{"GLAccount": gl["ID"], "AmountFC": "-40.00", "VATCode": "2  "}],
    }
    note = eo.restv1(POST("purchaseentry/PurchaseEntries", credit))
    assert (note["EntryNumber"], note["AmountFC"], note["VATAmountFC"]) == (24600002, -48.4, -8.4)
    assert (note["TypeDescription"], note["Document"]) == ("Purchase credit note", None)

    with pytest.raises(HTTPError) as rejected:
        eo.restv1(POST("purchaseentry/PurchaseEntries", {**body, "Journal": "99"}))
    assert rejected.value.code == 400
    error = json.loads(rejected.value.response)["error"]
    assert error == {"code": "", "message": {"lang": "", "value": "Invalid reference: Journal"}}
    with pytest.raises(HTTPError) as sales_journal:
        eo.restv1(POST("purchaseentry/PurchaseEntries", {**body, "Journal": "70"}))
    assert sales_journal.value.code == 400
    by_supplier = quote(f"Supplier eq guid'{supplier['ID']}'")
    booked = eo.restv1(GET(f"purchaseentry/PurchaseEntries?$filter={by_supplier}"))
    assert sorted(row["EntryNumber"] for row in booked) == [24600001, 24600002]


def test_ossobv_unwrap_pages_through_next_links(eo: Any) -> None:
    """61 accounts come back as one list: Unwrap follows __next past the 60-row page."""
    for number in range(61):
        eo.relations.create({"Code": str(number + 1), "Name": f"Customer {number + 1}"})
    every = eo.relations.all()
    assert len(every) == 61
    assert [row["Code"].strip() for row in every[-2:]] == ["60", "61"]
    assert len({row["ID"] for row in every}) == 61


def test_ossobv_refresh_after_570_seconds_rotates_and_the_old_token_dies(
    http: httpx.Client, sandbox_url: str, eo: Any, demo: Json
) -> None:
    """Too early → 400 TooEarlyToRefreshTokens; after 570 s → new pair; old one refused."""
    storage = eo.storage
    with pytest.raises(HTTPError) as early:
        eo.refresh_token()
    assert early.value.code == 400 and early.value.hdrs["Reason"] == "TooEarlyToRefreshTokens"
    assert json.loads(early.value.response)["error"] == "access_denied"

    old = dict(storage.data["transient"])
    advance(http, 571)
    eo.refresh_token()
    assert storage.get_refresh_token() != old["refresh_token"]
    assert storage.get_access_token() != old["access_token"]
    assert eo.get_divisions()[1] == demo["division"]

    stale = ExactApi(storage=MemoryStorage(f"{sandbox_url}/exact", demo["test_app"]))
    stale.storage.data["transient"].update(old)
    with pytest.raises(HTTPError) as reused:
        stale.refresh_token()
    assert reused.value.code == 400
    assert json.loads(reused.value.response) == {
        "error": "invalid_grant",
        "error_description": "Old refresh token used.",
    }


def test_ossobv_autorefresh_recovers_from_an_expired_access_token(
    http: httpx.Client, eo: Any
) -> None:
    """Past 600 s the sandbox answers 401; the library's Autorefresh refreshes and retries."""
    before = eo.storage.get_access_token()
    advance(http, 601)
    assert eo.relations.filter(relation_code="1") == []
    assert eo.storage.get_access_token() != before


def limiter_windows(api: Any) -> list[tuple[int, tuple[int, int]]]:
    """What the library's RateLimiter stored: (reset in epoch seconds, (limit, remaining))."""
    return list(api.limiter._reset_times.items())


@pytest.fixture
def tight_sandbox() -> Iterator[str]:
    """Its own server and clock, three calls a minute: the limiter test needs a clean clock."""
    settings = SandboxSettings(
        port=free_port(), auto_approve=True, redirect_uri=CALLBACK, exact_minutely_limit=3
    )
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


def test_ossobv_rate_limiter_reads_epoch_ms_resets_and_waits_out_the_minute(
    tight_sandbox: str,
) -> None:
    """RateLimiter.update() asserts ms resets; at 0 remaining it backs off until the reset."""
    with httpx.Client(base_url=tight_sandbox, timeout=10) as http:
        app = http.get("/_sandbox/demo").json()["exact"]["test_app"]
        division = http.post("/_sandbox/exact/divisions", json={}).json()["division"]
        api = ossobv_api(tight_sandbox, app)
        api.set_division(division)  # call 1 of 3
        api.relations.create({"Name": "Second call"})
        assert api.relations.filter(relation_code="999") == []  # call 3: none left
        left = {round(until - time.time()): usage for until, usage in limiter_windows(api)}
        assert [usage for seconds, usage in left.items() if 0 <= seconds <= 60] == [(3, 0)]
        assert [usage for seconds, usage in left.items() if seconds > 86_000] == [(5000, 4997)]
        waits: list[float] = []

        def wait_on_the_sandbox_clock(seconds: float) -> None:
            waits.append(seconds)
            advance(http, seconds + 1)

        api.limiter.wait = wait_on_the_sandbox_clock
        assert [row["Name"] for row in api.relations.all()] == ["Second call"]
        assert len(waits) == 1 and 0 < waits[0] <= 61  # until the minute window resets


# --- carlospaiva/exact-online-sdk -----------------------------------------------------


@pytest.fixture
def sdk_settings(sandbox_url: str, demo: Json, division: int) -> Settings:
    """Base, auth and token URLs on the sandbox (the defaults derive from start.exactonline.nl)."""
    base = f"{sandbox_url}/exact"
    app = demo["test_app"]
    return Settings(
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        redirect_uri=app["redirect_uri"],
        base_url=base,
        auth_url=f"{base}/api/oauth2/auth",
        token_url=f"{base}/api/oauth2/token",
        division=division,
    )


@pytest.fixture
def sdk_tokens() -> Any:
    return InMemoryTokenStorage()


@pytest.fixture
def sdk_auth(sdk_settings: Settings, sdk_tokens: Any) -> Any:
    auth = ExactOnlineAuth(sdk_settings, storage=sdk_tokens)
    state = uuid.uuid4().hex
    code = code_from_consent(auth.get_authorization_url(state), sdk_settings.redirect_uri, state)
    token = auth.exchange_code_for_token(code)
    assert token.token_type == "bearer" and token.refresh_token
    assert not token.expired
    return auth


@pytest.fixture
def sdk(sdk_settings: Settings, sdk_auth: Any) -> Iterator[Any]:
    with ExactOnlineClient(sdk_settings, auth=sdk_auth) as client:
        yield client


def extra_properties(error: ValidationError) -> set[str]:
    return {e["loc"][0] for e in error.context["errors"] if e["type"] == "extra_forbidden"}


def test_sdk_reads_me_and_the_division_lists_typed(sdk: Any, demo: Json, division: int) -> None:
    """current/Me needs no division; hrm/Divisions and system/AllDivisions fit its models."""
    [me] = endpoints.MeAPI(sdk).list()
    assert me.current_division == demo["division"] and me.user_name
    hrm = {d.code: d for d in endpoints.DivisionsAPI(sdk).list()}
    assert (hrm[division].hid, hrm[division].description) == (division, "Off the shelf BV")
    assert hrm[division].status == 0 and hrm[demo["division"]].main is True
    every = {d.code: d for d in endpoints.AllDivisionsAPI(sdk).list()}
    assert every[demo["division"]].current is True and every[division].current is False
    assert every[division].hid == division and every[division].status == 1

    # The SDK maps system/Divisions onto its hrm model; these three are system/Divisions'.
    systems = endpoints.SystemDivisionsAPI(sdk)
    with pytest.raises(ValidationError) as mismatch:
        systems.list()
    assert extra_properties(mismatch.value) == {"Current", "Hid", "IsMainDivision"}
    assert division in [row["Code"] for row in systems.list(raw=True)]


def test_sdk_master_data_journals_vat_codes_and_gl_accounts(sdk: Any) -> None:
    """Journals and VAT codes parse typed; GL accounts raw (the SDK's model lacks Type)."""
    journals = {j.code: j for j in endpoints.JournalsAPI(sdk).list()}
    assert (journals["70"].type, journals["70"].description) == (20, "Sales journal")
    vat = {v.code: v for v in endpoints.VATCodesAPI(sdk).list(filters={"Code": "2  "})}
    assert set(vat) == {"2  "} and (vat["2  "].percentage, vat["2  "].type) == (0.21, "E")

    gl_api = endpoints.GLAccountsAPI(sdk)
    with pytest.raises(ValidationError) as mismatch:
        gl_api.list()
    assert {"Type", "TypeDescription", "BalanceSide"} <= extra_properties(mismatch.value)
    select = ["ID", "Type", "VATCode", "IsBlocked"]
    [revenue] = gl_api.list(raw=True, filters={"Code": "8000"}, select=select)
    assert (revenue["Type"], revenue["VATCode"], revenue["IsBlocked"]) == (110, "2  ", False)


def test_sdk_accounts_sales_entry_payment_and_delete(
    http: httpx.Client, sdk: Any, division: int
) -> None:
    """Accounts through the typed endpoint, the SalesEntry raw (no endpoint in the SDK)."""
    accounts = endpoints.AccountsAPI(sdk)
    created = accounts.create({"name": "Acme SDK", "code": "77", "vat_number": "NL1"}, raw=True)
    assert created["Code"] == "77".rjust(18) and created["VATNumber"] == "NL1"
    assert accounts.get(created["ID"], raw=True)["Name"] == "Acme SDK"
    assert len(accounts.list(raw=True, filters={"Code": "77".rjust(18)})) == 1
    assert accounts.list(raw=True, filters={"Code": "77"}) == []

    [gl] = endpoints.GLAccountsAPI(sdk).list(raw=True, filters={"Code": "8010"})
    body = {
        "Journal": "70",
        "Customer": created["ID"],
        "EntryDate": "2024-03-01",
        "YourRef": "SDK-1",
        "SalesEntryLines": [{"GLAccount": gl["ID"], "AmountFC": "100.00", "Quantity": "2"}],
    }
    entry = sdk.post("salesentry/SalesEntries", json=body)
    assert (entry["EntryNumber"], entry["AmountFC"], entry["VATAmountFC"]) == (24700001, 109, 9)
    read = sdk.get(f"salesentry/SalesEntries(guid'{entry['EntryID']}')")
    assert (read["EntryDate"], read["YourRef"]) == (MARCH_1_2024, "SDK-1")
    lines = sdk.get(
        "salesentry/SalesEntryLines", params={"$filter": f"EntryID eq guid'{entry['EntryID']}'"}
    )
    assert [(ln["VATCode"], ln["Quantity"]) for ln in lines] == [("1  ", 2)]

    receivables = endpoints.ReceivablesAPI(sdk)
    by_entry = {"TransactionEntryID": uuid.UUID(entry["EntryID"])}
    [before] = receivables.list(raw=True, filters=by_entry)
    assert (before["Status"], before["IsFullyPaid"], before["AmountDC"]) == (20, False, 109)
    pay(http, division, entry["EntryID"])
    [after] = receivables.list(raw=True, filters=by_entry)
    assert (after["Status"], after["IsFullyPaid"]) == (50, True)

    with pytest.raises(BadRequestError) as in_use:
        accounts.delete(created["ID"])
    assert "used in transactions" in json.loads(str(in_use.value))["error"]["message"]["value"]
    assert sdk.delete(f"salesentry/SalesEntries(guid'{entry['EntryID']}')") is None
    with pytest.raises(NotFoundError):
        sdk.get(f"salesentry/SalesEntries(guid'{entry['EntryID']}')")
    assert accounts.delete(created["ID"]) is None


def test_sdk_documents_and_attachments_typed_the_purchase_entry_raw(sdk: Any) -> None:
    """DocumentTypes and DocumentAttachments fit the SDK's models; a Document's Created is
    /Date(ms)/, so its typed create books and then raises; the entry is raw (no endpoint).

    The SDK types ``Attachment`` as bytes and sends bytes as their text, not base64:
    Exact's Byte[] conversion error. Given base64 text, the same typed call stores the file.
    """
    types = {t.id: t.description for t in endpoints.DocumentTypesAPI(sdk).list()}
    assert types[20] == "Purchase invoice"
    supplier = endpoints.AccountsAPI(sdk).create(
        {"name": "Paper SDK", "is_supplier": True}, raw=True
    )
    assert supplier["IsSupplier"] is True
    documents = endpoints.DocumentsAPI(sdk)
    fields = {"subject": "Purchase invoice SDK-7", "type": 20, "account": supplier["ID"]}
    with pytest.raises(PartialResponseError) as booked_then_raised:
        documents.create({**fields, "document_date": "2024-03-01T00:00:00Z"})
    document = booked_then_raised.value.raw_response
    assert (document["Subject"], document["Account"]) == (fields["subject"], supplier["ID"])
    assert (document["DocumentDate"], document["TypeDescription"]) == (
        MARCH_1_2024,
        "Purchase invoice",
    )
    with pytest.raises(ValidationError) as mismatch:
        documents.get(document["ID"])
    errors = {(e["loc"][0], e["type"]) for e in mismatch.value.context["errors"]}
    assert errors == {
        ("created", "datetime_from_date_parsing"),
        ("document_date", "datetime_from_date_parsing"),
    }

    attachments = endpoints.DocumentAttachmentsAPI(sdk)
    upload = {"document": document["ID"], "file_name": "sdk-7.pdf"}
    with pytest.raises(BadRequestError) as not_base64:
        attachments.create({**upload, "attachment": PDF})
    assert "to type 'Byte[]'" in json.loads(str(not_base64.value))["error"]["message"]["value"]
    stored = attachments.create({**upload, "attachment": base64.b64encode(PDF).decode("ascii")})
    assert (stored.document, stored.file_size, stored.attachment) == (
        uuid.UUID(document["ID"]),
        len(PDF),
        None,
    )
    [listed] = attachments.list(filters={"Document": uuid.UUID(document["ID"])})
    assert (listed.id, listed.file_name) == (stored.id, "sdk-7.pdf")

    [gl] = endpoints.GLAccountsAPI(sdk).list(raw=True, filters={"Code": "7000"})
    entry = sdk.post(
        "purchaseentry/PurchaseEntries",
        json={
            "Journal": "60",
            "Supplier": supplier["ID"],
            "EntryDate": "2024-03-01",
            "Document": document["ID"],
            "PurchaseEntryLines": [{"GLAccount": gl["ID"], "AmountFC": "50.00", "VATCode": "1  "}],
        },
    )
    assert (entry["Type"], entry["AmountFC"], entry["VATAmountFC"]) == (30, 54.5, 4.5)
    linked = documents.get(document["ID"], raw=True)
    assert linked["FinancialTransactionEntryID"] == entry["EntryID"]
    lines = sdk.get(
        "purchaseentry/PurchaseEntryLines",
        params={"$filter": f"EntryID eq guid'{entry['EntryID']}'"},
    )
    assert [(ln["GLAccountCode"], ln["VATCode"]) for ln in lines] == [("7000", "1  ")]


def test_sdk_strict_models_fail_only_on_their_own_mistakes(sdk: Any) -> None:
    """Typed Account reads fail on /Date(ms)/ and Status 'C' only: no undocumented fields.

    Exact sends dates as ``/Date(ms)/`` and Account.Status as A/S/P/C; the SDK's models
    expect ISO datetimes and 'Active'/'Inactive'. Every property the sandbox sends is one
    the SDK's (documentation-generated) Account model knows.
    """
    accounts = endpoints.AccountsAPI(sdk)
    accounts.create({"name": "Strict BV"}, raw=True)
    with pytest.raises(ValidationError) as mismatch:
        accounts.list()
    errors = {(e["loc"][0], e["type"]) for e in mismatch.value.context["errors"]}
    assert errors == {
        ("created", "datetime_from_date_parsing"),
        ("modified", "datetime_from_date_parsing"),
        ("status_since", "datetime_from_date_parsing"),
        ("status", "enum"),
    }


def test_sdk_iter_pages_follows_next_links(sdk: Any) -> None:
    """iter_pages follows __next: 61 accounts arrive as pages of 60 and 1."""
    accounts = endpoints.AccountsAPI(sdk)
    for number in range(61):
        accounts.create({"name": f"Paged {number}"}, raw=True)
    assert [len(page) for page in accounts.iter_pages(raw=True, page_size=None)] == [60, 1]
    assert len(list(accounts.iter_all(raw=True))) == 61  # its default $top=100 is not a cap here


def test_sdk_refresh_is_refused_early_then_rotates_and_the_old_token_dies(
    http: httpx.Client, sdk: Any, sdk_settings: Settings, sdk_auth: Any, sdk_tokens: Any
) -> None:
    """The SDK refreshes with HTTP Basic; the 570 s floor and single-use rotation hold."""
    with pytest.raises(AuthenticationError) as early:
        sdk_auth.refresh_token()
    response = early.value.__cause__.response
    assert response.status_code == 400 and response.headers["Reason"] == "TooEarlyToRefreshTokens"

    old = sdk_tokens.get_token()
    advance(http, 571)
    fresh = sdk_auth.refresh_token()
    assert fresh.refresh_token != old.refresh_token
    assert endpoints.MeAPI(sdk).list()[0].current_division

    storage = InMemoryTokenStorage()
    storage.set_token(old)
    with pytest.raises(AuthenticationError) as reused:
        ExactOnlineAuth(sdk_settings, storage=storage).refresh_token()
    assert reused.value.__cause__.response.json()["error_description"] == "Old refresh token used."
