"""Lexware emulator's ``/v1/voucherlist`` over real HTTP: every documented filter narrows
the list, bad values get 400 in Lexware's error shape, pages hold at most 250, sort works."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from invoicesync_sandbox.settings import SandboxSettings
from tests.integration.sandbox.test_lexware_api import api, company, invoice, new_org
from tests.support.servers import sandbox_config

LIST = {"voucherType": "invoice", "voucherStatus": "any"}


@pytest.fixture(scope="module")
def sandbox_settings() -> SandboxSettings:
    """A rate limit high enough not to get in the way."""
    return sandbox_config(lexware_requests_per_second=1000.0)


@pytest.fixture
def client(sandbox_url: str) -> Iterator[httpx.Client]:
    with api(sandbox_url, new_org(sandbox_url)["api_key"]) as c:
        yield c


def _make(client: httpx.Client, date: str, finalize: bool = True, **extra: Any) -> dict[str, Any]:
    body = {**invoice(), "voucherDate": date, **extra}
    made = client.post("/v1/invoices", params={"finalize": str(finalize).lower()}, json=body)
    assert made.status_code == 201, made.text
    return dict(client.get(f"/v1/invoices/{made.json()['id']}").json())


def _ids(client: httpx.Client, **params: str) -> list[str]:
    page = client.get("/v1/voucherlist", params={**LIST, "size": "250", **params})
    assert page.status_code == 200, page.text
    return [row["id"] for row in page.json()["content"]]


def _advance(sandbox_url: str, seconds: float) -> None:
    httpx.post(f"{sandbox_url}/_sandbox/clock/advance", json={"seconds": seconds})


def test_voucher_dates_narrow_the_list_by_whole_berlin_days(client: httpx.Client) -> None:
    first = _make(client, "2024-03-01T00:00:00.000+01:00")["id"]
    # 23:30 UTC on 29 February is already 1 March in Berlin.
    late_utc = _make(client, "2024-02-29T23:30:00.000Z")["id"]
    next_day = _make(client, "2024-03-02T00:00:00.000+01:00")["id"]
    before = _make(client, "2024-02-28T12:00:00.000+01:00")["id"]

    one_day = {"voucherDateFrom": "2024-03-01", "voucherDateTo": "2024-03-01"}
    assert set(_ids(client, **one_day)) == {first, late_utc}
    assert set(_ids(client, voucherDateFrom="2024-03-01")) == {first, late_utc, next_day}
    assert _ids(client, voucherDateTo="2024-02-29") == [before]
    assert len(_ids(client)) == 4


def test_created_and_updated_dates_narrow_the_list(sandbox_url: str, client: httpx.Client) -> None:
    early = _make(client, "2024-03-01T00:00:00.000+01:00", finalize=False)
    _advance(sandbox_url, 2 * 86400)
    later = _make(client, "2024-03-01T00:00:00.000+01:00")
    _advance(sandbox_url, 2 * 86400)
    control = f"{sandbox_url}/_sandbox/lexware/vouchers/{early['id']}/finalize"
    assert httpx.post(control).status_code == 200  # changes the early one today
    today = client.get(f"/v1/invoices/{early['id']}").json()["updatedDate"][:10]
    created_early = early["createdDate"][:10]

    assert _ids(client, updatedDateFrom=today) == [early["id"]]
    assert _ids(client, updatedDateTo=later["updatedDate"][:10]) == [later["id"]]
    assert _ids(client, createdDateTo=created_early) == [early["id"]]
    assert _ids(client, createdDateFrom=later["createdDate"][:10]) == [later["id"]]


def test_contact_archived_and_number_filters(client: httpx.Client) -> None:
    contact = client.post("/v1/contacts", json=company("Kunde GmbH"))
    assert contact.status_code == 201, contact.text
    contact_id = contact.json()["id"]
    theirs = client.post(
        "/v1/invoices", params={"finalize": "true"}, json=invoice(contact_id=contact_id)
    ).json()["id"]
    walk_in = _make(client, "2024-03-01T00:00:00.000+01:00")
    archived = _make(client, "2024-03-01T00:00:00.000+01:00", archived=True)["id"]

    assert _ids(client, contactId=contact_id) == [theirs]
    assert _ids(client, archived="true") == [archived]
    assert set(_ids(client, archived="false")) == {theirs, walk_in["id"]}
    assert _ids(client, voucherNumber=walk_in["voucherNumber"]) == [walk_in["id"]]
    assert _ids(client, voucherNumber=walk_in["voucherNumber"][:-1]) == []  # exact only


def test_overdue_is_open_and_past_due_and_stands_alone(client: httpx.Client) -> None:
    past_due = _make(client, "2024-03-01T00:00:00.000+01:00")["id"]
    _make(client, "2024-03-01T00:00:00.000+01:00", finalize=False)  # a draft is never due
    _make(client, "2099-03-01T00:00:00.000+01:00")  # open, due long after today

    assert _ids(client, voucherStatus="overdue") == [past_due]
    combined = client.get("/v1/voucherlist", params={**LIST, "voucherStatus": "open,overdue"})
    assert combined.status_code == 400
    assert [d["field"] for d in combined.json()["details"]] == ["voucherStatus"]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("voucherDateFrom", "01.03.2024"),
        ("voucherDateTo", "2024-13-01"),
        ("createdDateFrom", "2024-3-1"),
        ("updatedDateFrom", "2024-03-01T00:00:00"),
        ("archived", "yes"),
        ("contactId", "not-a-uuid"),
        ("sort", "totalAmount,ASC"),
        ("sort", "voucherDate,UP"),
        ("size", "251"),
        ("size", "0"),
    ],
)
def test_a_bad_value_gets_400_naming_the_parameter(
    client: httpx.Client, param: str, value: str
) -> None:
    answer = client.get("/v1/voucherlist", params={**LIST, param: value})
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert {"timestamp", "status", "error", "path", "traceId", "message"} <= set(body)
    assert [d["field"] for d in body["details"]] == [param]


def test_a_range_ending_before_it_starts_is_refused(client: httpx.Client) -> None:
    params = {**LIST, "voucherDateFrom": "2024-03-02", "voucherDateTo": "2024-03-01"}
    answer = client.get("/v1/voucherlist", params=params)
    assert answer.status_code == 400
    assert [d["field"] for d in answer.json()["details"]] == ["voucherDateFrom"]


def test_pages_and_sort(client: httpx.Client) -> None:
    days = ["2024-03-03", "2024-03-01", "2024-03-05", "2024-03-02", "2024-03-04"]
    made = {d: _make(client, f"{d}T00:00:00.000+01:00") for d in days}

    def dates(**params: str) -> list[str]:
        page = client.get("/v1/voucherlist", params={**LIST, "size": "250", **params}).json()
        return [row["voucherDate"][:10] for row in page["content"]]

    assert dates() == sorted(days, reverse=True)  # newest voucher date first by default
    assert dates(sort="voucherDate,ASC") == sorted(days)
    assert dates(sort="voucherDate") == sorted(days)  # Spring's default direction: ASC
    by_number = sorted(days, key=lambda d: made[d]["voucherNumber"], reverse=True)
    assert dates(sort="voucherNumber,DESC") == by_number

    second = client.get("/v1/voucherlist", params={**LIST, "size": "2", "page": "1"}).json()
    assert [r["voucherDate"][:10] for r in second["content"]] == ["2024-03-03", "2024-03-02"]
    assert (second["totalPages"], second["totalElements"], second["size"]) == (3, 5, 2)
    assert (second["first"], second["last"], second["number"]) == (False, False, 1)
    assert second["sort"][0]["property"] == "voucherDate"
