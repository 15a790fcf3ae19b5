"""Plausible documents at the door (issue 19.3): what no accounting system takes — an
unknown currency, amounts beyond what the systems and our columns hold, dates before 2000 or
over a year ahead, blank names or control characters — is a 422 naming each field, on POST
and PATCH, for invoices and credit notes; never a 500."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Document
from invoicesync_shared import clock
from tests.integration.api.conftest import invoice
from tests.support.clocks import held_at

PROBLEM = "application/problem+json"
PATHS = ["/v1/invoices", "/v1/credit-notes"]
Body = dict[str, Any]


def today() -> date:
    return clock.now().date()


def line(quantity: str = "1", unit_price: str = "10.00", **overrides: str) -> dict[str, str]:
    return {
        "description": "Work",
        "quantity": quantity,
        "unit_price": unit_price,
        "vat_rate": "21",
        **overrides,
    }


def assert_refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert field in [e["field"] for e in problem["errors"]], problem
    assert field in problem["detail"]


def _customer(**overrides: str) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        body["customer"] = {**body["customer"], **overrides}

    return change


def _lines(*lines: dict[str, str]) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        body["lines"] = list(lines)

    return change


def _set(**fields: Any) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        body.update(fields)

    return change


def _days_ahead(field: str, days: int) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        body[field] = (today() + timedelta(days=days)).isoformat()
        if field == "issue_date":
            body["due_date"] = None

    return change


# 7 x 99,999,999,999 = 699,999,999,993 net: a line that fits, two whose totals do not.
BIG_LINE = line(quantity="7", unit_price="99999999999")

# (change to a valid body, the field the refusal names)
POST_CASES: dict[str, tuple[Callable[[Body], None], str]] = {
    "unknown currency": (_set(currency="ZZZ"), "currency"),
    "no-currency code": (_set(currency="XXX"), "currency"),
    # Both were a 500 that dropped the connection.
    "unit price beyond the schema's money": (
        _lines(line(unit_price="99999999999999.9999")),
        "lines.0.unit_price",
    ),
    "quantity x price at 10^14": (
        _lines(line(), line(quantity="10000000", unit_price="10000000")),
        "lines.1",
    ),
    "each line fits, the totals do not": (_lines(BIG_LINE, BIG_LINE), "lines"),
    "issued in 1999": (_set(issue_date="1999-12-31", due_date=None), "issue_date"),
    "issued over a year ahead": (_days_ahead("issue_date", 367), "issue_date"),
    "due over a year ahead": (_days_ahead("due_date", 367), "due_date"),
    "blank customer name": (_customer(name="   "), "customer.name"),
    "bell in customer name": (_customer(name="Jansen\u0007 BV"), "customer.name"),
    "line break in customer name": (_customer(name="Jansen\nBV"), "customer.name"),
    "escape in customer id": (_customer(external_id="c\u001b[1m"), "customer.external_id"),
    "blank number": (_set(number=" \t"), "number"),
    "control in a line's description": (
        _lines(line(description="Work\u0008")),
        "lines.0.description",
    ),
}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", list(POST_CASES))
def test_implausible_documents_are_refused_naming_the_field(
    partner: httpx.Client, client_id: str, path: str, case: str
) -> None:
    change, field = POST_CASES[case]
    body = invoice(client_id)
    change(body)
    assert_refused(partner.post(path, json=body), field)
    assert partner.get(path, params={"client_id": client_id}).json()["data"] == []


PATCH_CASES: dict[str, tuple[Body, str]] = {
    "unit price beyond the schema's money": (
        {"lines": [line(unit_price="99999999999999.9999")]},
        "lines.0.unit_price",
    ),
    "quantity x price at 10^14": (
        {"lines": [line(quantity="10000000", unit_price="10000000")]},
        "lines.0",
    ),
    "each line fits, the totals do not": ({"lines": [BIG_LINE, BIG_LINE]}, "lines"),
    "blank customer name": (
        {"customer": {"external_id": "c1", "name": "  "}},
        "customer.name",
    ),
    "tab in customer name": (
        {"customer": {"external_id": "c1", "name": "Jansen\tBV"}},
        "customer.name",
    ),
    "control in a line's description": (
        {"lines": [line(description="\u007f")]},
        "lines.0.description",
    ),
    "due before the stored issue date": ({"due_date": "2026-11-19"}, "due_date"),
}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", list(PATCH_CASES))
def test_implausible_edits_are_refused_and_change_nothing(
    partner: httpx.Client, client_id: str, path: str, case: str
) -> None:
    created = partner.post(path, json=invoice(client_id, status="draft"))
    assert created.status_code == 201, created.text
    url = f"{path}/{created.json()['id']}"
    edit, field = PATCH_CASES[case]
    assert_refused(partner.patch(url, json=edit), field)
    assert partner.get(url).json() == {**created.json(), "warnings": []}


@pytest.mark.parametrize("path", PATHS)
def test_due_date_edit_over_a_year_ahead_is_refused(
    partner: httpx.Client, client_id: str, path: str
) -> None:
    created = partner.post(path, json=invoice(client_id, status="draft"))
    url = f"{path}/{created.json()['id']}"
    far = (today() + timedelta(days=367)).isoformat()
    assert_refused(partner.patch(url, json={"due_date": far}), "due_date")
    assert partner.get(url).json()["due_date"] == created.json()["due_date"]


def test_every_refused_field_is_named_at_once(partner: httpx.Client, client_id: str) -> None:
    body = invoice(client_id, currency="ZZZ", customer={"external_id": "c1", "name": " "})
    body["lines"][1]["unit_price"] = "99999999999999.9999"
    response = partner.post("/v1/invoices", json=body)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {
        "currency",
        "customer.name",
        "lines.1.unit_price",
    }


def test_documents_at_the_edges_are_taken(partner: httpx.Client, client_id: str) -> None:
    """Strict, not more: the last day ahead, the largest line and totals, any real
    currency, and descriptions over several lines pass."""
    body = invoice(
        client_id,
        issue_date=(today() + timedelta(days=366)).isoformat(),
        due_date=(today() + timedelta(days=366)).isoformat(),
        currency="CHF",
        lines=[
            # 10 x 99,999,999,999.999 = 999,999,999,999.99, the largest line net (no VAT)
            line(quantity="10", unit_price="99999999999.999", vat_rate="0"),
            line(description="Parts:\n- valve\n\t- seal", unit_price="-0.01", vat_rate="0"),
        ],
    )
    accepted = partner.post("/v1/invoices", json=body)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["totals"]["gross"] == "999999999999.98"
    issued_2000 = invoice(client_id, number="2000-1", issue_date="2000-01-01", due_date=None)
    assert partner.post("/v1/invoices", json=issued_2000).status_code == 201


IN_2040 = datetime(2040, 6, 1, 12, tzinfo=UTC)


@pytest.fixture
def clock_in_2040() -> Iterator[None]:
    """The shared clock (the API's too: it runs in this process), the host's afterwards."""
    with held_at(IN_2040):
        yield


def test_today_is_the_projects_clock(
    partner: httpx.Client, client_id: str, clock_in_2040: None
) -> None:
    later = invoice(client_id, number="2041-1", issue_date="2041-06-01", due_date=None)
    assert partner.post("/v1/invoices", json=later).status_code == 201
    too_late = invoice(client_id, number="2041-2", issue_date="2041-06-03", due_date=None)
    assert_refused(partner.post("/v1/invoices", json=too_late), "issue_date")


async def test_a_document_is_dated_by_the_projects_clock(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock_in_2040: None,
) -> None:
    """Created and booked when the shared clock says, as the sweeper and nightly runs judge
    it: a host-clock date would be years before the moved clock's today."""
    created = partner.post("/v1/invoices", json=invoice(client_id, number="2040-DATED"))
    assert created.status_code == 201, created.text
    assert datetime.fromisoformat(created.json()["created_at"]) == IN_2040
    draft = invoice(client_id, number="2040-DRAFT", status="draft")
    drafted = partner.post("/v1/invoices", json=draft).json()
    booked = partner.post(f"/v1/invoices/{drafted['id']}/book")
    assert booked.status_code == 200, booked.text
    async with sessionmaker() as session:
        stored = await session.get(Document, uuid.UUID(drafted["id"]))
    assert stored is not None and stored.booked_at == IN_2040


async def test_stored_text_from_before_the_rules_still_reads_back(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    created = partner.post("/v1/invoices", json=invoice(client_id)).json()
    async with sessionmaker.begin() as session:
        await session.execute(
            text(
                "UPDATE documents SET customer = jsonb_set(customer, '{name}', "
                "to_jsonb(CAST(:name AS text))) WHERE id = CAST(:id AS uuid)"
            ),
            {"id": created["id"], "name": "Jansen\tBV"},
        )
    read = partner.get(f"/v1/invoices/{created['id']}")
    assert read.status_code == 200, read.text
    assert read.json()["customer"]["name"] == "Jansen\tBV"
