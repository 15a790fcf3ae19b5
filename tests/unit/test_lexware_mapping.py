"""Lexware's rules in pure functions: completeness, payloads, matching, error decisions."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connector_lexware import completeness, errors, mapping
from invoicesync_shared.connectors.errors import (
    AuthorizationLost,
    PermanentError,
    TransientError,
    UnknownOutcome,
)
from invoicesync_shared.events.documents import Address, DocumentLine, DocumentSnapshot
from tests.integration.connectors.lexware_support import company, customer, document


def _doc(**overrides: Any) -> DocumentSnapshot:
    return document(uuid.uuid4(), "INV-1", **overrides)


class TestCompleteness:
    def test_a_complete_document_passes(self) -> None:
        completeness.check(_doc())

    def test_every_missing_field_is_named_at_once(self) -> None:
        incomplete = _doc(
            company=None,
            customer=customer(address=Address(street="Dam 1"), country=None, vat_number=None),
        )
        assert completeness.missing_fields(incomplete) == [
            "company.name",
            "company.address.street",
            "company.address.postal_code",
            "company.address.city",
            "company.country",
            "customer.address.postal_code",
            "customer.address.city",
            "customer.address.country",
        ]

    def test_an_eu_company_abroad_needs_a_vat_number(self) -> None:
        dutch = customer(
            vat_number=None,
            country="NL",
            address=Address(street="Dam", postal_code="1012", city="Amsterdam", country="NL"),
        )
        assert completeness.missing_fields(_doc(customer=dutch)) == ["customer.vat_number"]
        person = dutch.model_copy(update={"is_person": True})
        assert completeness.missing_fields(_doc(customer=person)) == []

    def test_the_message_lists_the_fields(self) -> None:
        with pytest.raises(PermanentError) as refused:
            completeness.check(_doc(company=company().model_copy(update={"address": None})))
        assert refused.value.code == "incomplete_data"
        assert "company.address.street, company.address.postal_code" in refused.value.message

    def test_foreign_currency_and_rates_are_refused(self) -> None:
        with pytest.raises(PermanentError, match="unsupported_currency"):
            completeness.check(_doc(currency="USD"))
        line = DocumentLine(
            description="x",
            quantity=Decimal(1),
            unit_price=Decimal(1),
            vat_rate=Decimal(21),
            net_amount=Decimal(1),
            vat_amount=Decimal("0.21"),
        )
        with pytest.raises(PermanentError, match="unsupported_vat_rate"):
            completeness.check(_doc(lines=[line]))


class TestPayloads:
    def test_invoice_is_a_draft_payload_carrying_our_reference(self) -> None:
        payload = mapping.voucher_payload(_doc(), contact_id="c-1", reference="INV-1")
        assert payload["voucherDate"] == "2026-11-20T00:00:00.000+01:00"
        assert payload["address"] == {"contactId": "c-1"}
        assert payload["taxConditions"] == {"taxType": "net"}
        assert payload["lineItems"][0]["unitPrice"] == {
            "currency": "EUR",
            "netAmount": 50.0,
            "taxRatePercentage": 19,
        }
        assert payload["paymentConditions"]["paymentTermDuration"] == 14
        assert mapping.carries_reference(payload, "INV-1")
        assert not mapping.carries_reference(payload, "INV-")
        assert not mapping.carries_reference(
            {"introduction": "Referenz / Reference: INV-10"}, "INV-1"
        )

    def test_summer_dates_carry_the_summer_offset(self) -> None:
        from datetime import date

        assert mapping.voucher_date(date(2026, 7, 1)) == "2026-07-01T00:00:00.000+02:00"

    def test_a_discounted_line_becomes_one_unit_of_its_net_amount(self) -> None:
        line = DocumentLine(
            description="Rabattiert",
            quantity=Decimal(3),
            unit_price=Decimal("10.00"),
            vat_rate=Decimal(7),
            net_amount=Decimal("27.00"),
            vat_amount=Decimal("1.89"),
        )
        [item] = mapping.voucher_payload(_doc(lines=[line]), contact_id="c", reference="r")[
            "lineItems"
        ]
        assert item["quantity"] == 1 and item["unitPrice"]["netAmount"] == 27.0

    def test_zero_rated_eu_business_is_an_intra_community_supply(self) -> None:
        line = DocumentLine(
            description="x",
            quantity=Decimal(1),
            unit_price=Decimal(100),
            vat_rate=Decimal(0),
            net_amount=Decimal(100),
            vat_amount=Decimal(0),
        )
        dutch = customer(vat_number="NL123456789B01", country="NL")
        assert mapping.tax_type(_doc(lines=[line], customer=dutch)) == "intraCommunitySupply"
        swiss = customer(vat_number=None, country="CH")
        assert mapping.tax_type(_doc(lines=[line], customer=swiss)) == "thirdPartyCountryService"

    def test_contact_payload_for_a_company_and_a_person(self) -> None:
        payload = mapping.contact_payload(customer())
        assert payload["roles"] == {"customer": {}}
        assert payload["company"] == {"name": "Kunde AG", "vatRegistrationId": "DE999999999"}
        assert payload["addresses"]["billing"] == [
            {"street": "Marktplatz 5", "zip": "80331", "city": "München", "countryCode": "DE"}
        ]
        person = mapping.contact_payload(customer(name="Erika Mustermann", is_person=True))
        assert person["person"] == {"firstName": "Erika", "lastName": "Mustermann"}


class TestContactMatching:
    def test_vat_number_decides_when_both_sides_have_one(self) -> None:
        ours = customer()
        same_name_other_vat = {
            "id": "1",
            "company": {"name": "Kunde AG", "vatRegistrationId": "DE1"},
        }
        same_vat = {
            "id": "2",
            "company": {"name": "KUNDE AG.", "vatRegistrationId": "de 999999999"},
        }
        assert mapping.matching_contact([same_name_other_vat, same_vat], ours) == same_vat

    def test_name_or_email_when_a_vat_number_is_missing(self) -> None:
        ours = customer(vat_number=None)
        by_email = {
            "id": "3",
            "company": {"name": "Kunde"},
            "emailAddresses": {"business": ["Buchhaltung@kunde.example"]},
        }
        archived = {"id": "4", "company": {"name": "Kunde AG"}, "archived": True}
        assert mapping.matching_contact([archived, by_email], ours) == by_email

    def test_short_names_are_not_searched(self) -> None:
        assert mapping.contact_searches(customer(name="AB", email=None)) == []


def _response(status: int, body: object = None, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


class TestClassify:
    def test_success_is_none(self) -> None:
        assert errors.classify(_response(201, {}), is_write=True) is None

    def test_429_waits_for_retry_after_or_a_second(self) -> None:
        given = errors.classify(_response(429, {}, **{"Retry-After": "3"}), is_write=True)
        assert isinstance(given, TransientError) and given.retry_after == 3.0
        default = errors.classify(_response(429, {}), is_write=False)
        assert isinstance(default, TransientError) and default.retry_after == 1.0

    def test_5xx_on_a_write_is_an_unknown_outcome(self) -> None:
        assert isinstance(errors.classify(_response(500), is_write=True), UnknownOutcome)
        assert isinstance(errors.classify(_response(503), is_write=False), TransientError)

    def test_a_second_401_means_reauthorisation(self) -> None:
        assert isinstance(errors.classify(_response(401, {}), is_write=False), AuthorizationLost)

    def test_validation_details_reach_the_message(self) -> None:
        body = {
            "status": 406,
            "message": "Validation failed for request.",
            "details": [
                {
                    "field": "lineItems[0].name",
                    "violation": "NOTNULL",
                    "message": "must not be null",
                }
            ],
        }
        refused = errors.classify(_response(406, body), is_write=True)
        assert isinstance(refused, PermanentError) and refused.code == "rejected"
        assert "lineItems[0].name: must not be null" in refused.message

    def test_legacy_issue_list_and_tax_refusal(self) -> None:
        body = {"IssueList": [{"i18nKey": "NOTVALID", "source": "taxConditions.taxType"}]}
        refused = errors.classify(_response(406, body), is_write=True)
        assert isinstance(refused, PermanentError)
        assert refused.code == "tax_conditions_rejected"
        assert "taxConditions.taxType: NOTVALID" in refused.message

    def test_lost_answers(self) -> None:
        request = httpx.Request("POST", "http://x")
        lost = errors.transport_error(httpx.ReadTimeout("t", request=request), is_write=True)
        assert isinstance(lost, UnknownOutcome)
        unsent = errors.transport_error(httpx.ConnectError("c", request=request), is_write=True)
        assert isinstance(unsent, TransientError)
