"""Exact's quirks in pure functions: padded codes, OData literals, signs, error decisions."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx

from connector_exact import errors, mapping
from invoicesync_api.db.models import Client
from invoicesync_shared.connectors.errors import (
    AuthorizationLost,
    PermanentError,
    TransientError,
    UnknownOutcome,
)
from invoicesync_shared.events.documents import CustomerData
from tests.support.factories import snapshot


def _client() -> Client:
    return Client(id=uuid.uuid4(), partner_id=uuid.uuid4(), name="c")


def test_numeric_customer_code_is_padded_to_18_and_quotes_are_doubled() -> None:
    customer = CustomerData(external_id="42", name="O'Brien", vat_number="NL1")
    filters = mapping.account_filters(customer)
    assert filters[0] == "Code eq '                42'"
    assert filters[-1] == "Name eq 'O''Brien'"


def test_credit_note_is_type_21_with_negative_amounts() -> None:
    document = snapshot(_client(), "CN-1", kind="credit_note")
    payload = mapping.sales_entry_payload(
        document,
        reference="CN-1",
        journal="70",
        customer_id="c",
        gl_account_ids=["gl"],
        vat_codes=["2  "],
    )
    assert payload["Type"] == 21
    assert payload["SalesEntryLines"][0]["AmountFC"] == "-100.00"
    assert payload["SalesEntryLines"][0]["VATAmountFC"] == "-21.00"


def test_vat_rate_percent_to_exact_fraction() -> None:
    assert mapping.vat_percentage(Decimal("21")) == Decimal("0.2100")


def test_classify_decides_by_status_and_kind_of_call() -> None:
    request = httpx.Request("POST", "https://exact/api")
    assert isinstance(
        errors.classify(
            httpx.Response(429, headers={"Retry-After": "2"}, request=request), is_write=True
        ),
        TransientError,
    )
    assert isinstance(
        errors.classify(httpx.Response(503, request=request), is_write=True), UnknownOutcome
    )
    assert isinstance(
        errors.classify(httpx.Response(503, request=request), is_write=False), TransientError
    )
    body = {"error": {"code": "", "message": {"lang": "", "value": "Invalid reference: Journal"}}}
    refused = errors.classify(httpx.Response(400, json=body, request=request), is_write=True)
    assert isinstance(refused, PermanentError) and refused.code == "journal_missing"
    blocked = errors.classify(
        httpx.Response(403, headers={"Reason": "DivisionBlocked"}, request=request), is_write=False
    )
    assert isinstance(blocked, PermanentError) and not isinstance(blocked, AuthorizationLost)
    assert errors.classify(httpx.Response(201, request=request), is_write=True) is None


def test_a_division_out_of_reach_is_a_lost_connection_naming_the_division() -> None:
    """By Exact's ``Reason`` header, or by its text when the division is outside the
    companies the user allowed the app (division scoping); a 401 is not one of them."""
    request = httpx.Request("POST", "https://exact/api")
    header = httpx.Response(403, headers={"Reason": "NoDivisionAccess"}, request=request)
    body = {
        "error": {"message": {"value": "Forbidden - User division is not within division scope"}}
    }
    scoped = httpx.Response(403, json=body, request=request)
    for response in (header, scoped):
        lost = errors.classify(response, is_write=True, division=4711)
        assert isinstance(lost, AuthorizationLost)
        assert (lost.reason, lost.status) == ("division_access_withdrawn", "needs_reauthorization")
        assert "division 4711" in lost.message and "reconnect" in lost.message
    expired = errors.classify(httpx.Response(401, request=request), is_write=False, division=4711)
    assert not isinstance(expired, AuthorizationLost)
