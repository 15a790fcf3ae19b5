"""Lexware's rules in pure functions: completeness, payloads, matching, error decisions."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connector_lexware import completeness, errors, mapping
from invoicesync_shared.connectors.errors import (
    PermanentError,
    RateLimited,
    TransientError,
    UnknownOutcome,
)
from invoicesync_shared.connectors.provenance import marker
from invoicesync_shared.events.documents import Address, DocumentLine, DocumentSnapshot
from invoicesync_shared.integration_settings import LexwareSettings
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
        assert isinstance(given, RateLimited) and given.retry_after == 3.0
        default = errors.classify(_response(429, {}), is_write=False)
        assert isinstance(default, RateLimited) and default.retry_after == 1.0

    def test_5xx_on_a_write_is_an_unknown_outcome(self) -> None:
        assert isinstance(errors.classify(_response(500), is_write=True), UnknownOutcome)
        assert isinstance(errors.classify(_response(503), is_write=False), TransientError)

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


class TestVoucherDetails:
    def test_credit_note_goes_to_its_own_path_and_list_without_payment_terms(self) -> None:
        credit_note = _doc(kind="credit_note")
        assert mapping.voucher_path("credit_note") == "v1/credit-notes"
        assert mapping.voucher_path("invoice") == "v1/invoices"
        assert mapping.list_type("credit_note") == "creditnote"
        assert mapping.list_type("invoice") == "invoice"
        payload = mapping.voucher_payload(credit_note, contact_id="c", reference="CN-1")
        assert "paymentConditions" not in payload

    def test_service_is_delivered_on_the_voucher_date_and_the_marker_is_printed(self) -> None:
        doc = _doc()
        payload = mapping.voucher_payload(doc, contact_id="c", reference="INV-1")
        day = mapping.voucher_date(doc.issue_date)
        assert payload["shippingConditions"] == {"shippingDate": day, "shippingType": "service"}
        assert payload["totalPrice"] == {"currency": "EUR"}
        assert marker(doc.id) in payload["introduction"].splitlines()

    def test_payment_term_counts_the_days_and_never_goes_below_zero(self) -> None:
        doc = _doc(due_date=date(2026, 12, 20))
        terms = mapping.voucher_payload(doc, contact_id="c", reference="r")["paymentConditions"]
        days = (date(2026, 12, 20) - doc.issue_date).days
        assert terms == {
            "paymentTermLabel": f"Zahlbar innerhalb von {days} Tagen",
            "paymentTermDuration": days,
        }
        overdue = _doc(due_date=doc.issue_date - timedelta(days=3))
        payload = mapping.voucher_payload(overdue, contact_id="c", reference="r")
        assert payload["paymentConditions"]["paymentTermDuration"] == 0
        assert "paymentConditions" not in mapping.voucher_payload(
            _doc(due_date=None), contact_id="c", reference="r"
        )

    def test_a_line_keeps_quantity_and_price_when_they_make_its_amount(self) -> None:
        line = DocumentLine(
            description="B" * 300,
            quantity=Decimal("2.5"),
            unit_price=Decimal("10.12346"),
            vat_rate=Decimal("7.5"),
            net_amount=Decimal("25.31"),
            vat_amount=Decimal("1.90"),
        )
        [item] = mapping.voucher_payload(_doc(lines=[line]), contact_id="c", reference="r")[
            "lineItems"
        ]
        assert item["type"] == "custom" and item["unitName"] == "Stück"
        assert item["name"] == line.description[:255]
        assert item["quantity"] == 2.5
        assert item["unitPrice"]["netAmount"] == float(Decimal("10.1235"))  # to 4 places
        assert item["unitPrice"]["taxRatePercentage"] == 7.5
        whole = mapping.voucher_payload(_doc(), contact_id="c", reference="r")["lineItems"][0]
        # Whole rates go out as JSON integers (19, not 19.0), as Lexware lists its rates.
        assert json.dumps(whole["unitPrice"]["taxRatePercentage"]) == "19"
        unnamed = line.model_copy(update={"description": ""})
        [item] = mapping.voucher_payload(_doc(lines=[unnamed]), contact_id="c", reference="r")[
            "lineItems"
        ]
        assert item["name"] == "-"

    def test_voucher_day_and_gross_total_read_back_from_a_voucher(self) -> None:
        voucher = {
            "voucherDate": "2026-11-20T00:00:00.000+01:00",
            "totalPrice": {"totalGrossAmount": 119.5},
        }
        assert mapping.voucher_day(voucher) == date(2026, 11, 20)
        assert mapping.gross_total(voucher) == Decimal("119.5")
        for unreadable in ({}, {"voucherDate": None}, {"voucherDate": "soon"}):
            assert mapping.voucher_day(unreadable) is None
        assert mapping.gross_total({}) is None
        assert mapping.gross_total({"totalPrice": None}) is None
        assert mapping.gross_total({"totalPrice": {"totalGrossAmount": 0}}) == 0

    def test_scope_is_the_organisation_once_verified(self) -> None:
        integration = uuid.uuid4()

        def scope(stored: dict[str, Any]) -> str:
            return mapping.scope_of(integration, LexwareSettings.stored(stored))

        assert scope({}) == f"integration:{integration}"
        assert scope({"remote": None}) == f"integration:{integration}"
        assert scope({"remote": {}}) == f"integration:{integration}"
        assert scope({"remote": {"organization_id": "org-9", "tax_type": "net"}}) == "org-9"

    def test_customer_number_of_a_contact(self) -> None:
        assert mapping.customer_number({"roles": {"customer": {"number": 10004}}}) == "10004"
        assert mapping.customer_number({"roles": {"customer": {"number": 0}}}) == "0"
        rows: list[dict[str, Any]] = [
            {},
            {"roles": None},
            {"roles": {"customer": None}},
            {"roles": {"vendor": {}}},
        ]
        for row in rows:
            assert mapping.customer_number(row) is None


class TestTaxType:
    @staticmethod
    def _zero(rate: str = "0") -> DocumentLine:
        return DocumentLine(
            description="x",
            quantity=Decimal(1),
            unit_price=Decimal(100),
            vat_rate=Decimal(rate),
            net_amount=Decimal(100),
            vat_amount=Decimal(0),
        )

    def test_any_taxed_line_makes_the_voucher_net(self) -> None:
        dutch = customer(vat_number="NL123456789B01", country="NL")
        lines = [self._zero(), self._zero("19")]
        assert mapping.tax_type(_doc(lines=lines, customer=dutch)) == "net"

    def test_home_is_the_company_country(self) -> None:
        """A zero-rated Dutch business is abroad for a German company, not for a Dutch one."""
        dutch = customer(vat_number="NL123456789B01", country="nl", address=None)
        home = company().model_copy(update={"country": None, "address": Address(country="NL")})
        assert mapping.tax_type(_doc(lines=[self._zero()], customer=dutch)) == (
            "intraCommunitySupply"
        )
        assert mapping.tax_type(_doc(lines=[self._zero()], customer=dutch, company=home)) == "net"
        assert mapping.tax_type(_doc(lines=[self._zero()], customer=dutch, company=None)) == (
            "intraCommunitySupply"
        )

    def test_eu_persons_and_businesses_without_vat_number_or_country_stay_net(self) -> None:
        zero = [self._zero()]
        person = customer(vat_number="NL1", country="NL", is_person=True)
        no_vat = customer(vat_number=None, country="NL")
        nowhere = customer(vat_number=None, country=None, address=None)
        german = customer(country="DE")
        for someone in (person, no_vat, nowhere, german):
            assert mapping.tax_type(_doc(lines=zero, customer=someone)) == "net"

    def test_country_comes_from_the_address_in_capitals(self) -> None:
        swiss = customer(vat_number=None, country=None, address=Address(country="ch"))
        assert mapping.country_of(swiss) == "CH"
        assert mapping.tax_type(_doc(lines=[self._zero()], customer=swiss)) == (
            "thirdPartyCountryService"
        )
        assert mapping.country_of(customer(country=None, address=None)) is None
        assert mapping.is_foreign_eu_company(customer(country="AT"), None)
        assert not mapping.is_foreign_eu_company(customer(country="DE"), None)
        assert not mapping.is_foreign_eu_company(customer(country="AT"), "AT")


class TestContacts:
    def test_searches_by_trimmed_name_then_email_from_three_characters(self) -> None:
        ours = customer(name="  Abc ", email=" a@b ")
        assert mapping.contact_searches(ours) == [
            {"name": "Abc", "customer": "true"},
            {"email": "a@b", "customer": "true"},
        ]
        assert mapping.contact_searches(customer(name="Abc", email="ab")) == [
            {"name": "Abc", "customer": "true"}
        ]

    def test_new_contact_carries_email_and_our_customer_id(self) -> None:
        ours = customer(external_id="cust-42", email=" ap@kunde.example ", vat_number="de 1 2")
        payload = mapping.contact_payload(ours)
        assert payload["version"] == 0
        assert payload["emailAddresses"] == {"business": ["ap@kunde.example"]}
        assert payload["note"] == "invoicesync customer cust-42"
        assert payload["company"]["vatRegistrationId"] == "DE12"
        plain = mapping.contact_payload(customer(email=None, vat_number=None, address=None))
        assert "emailAddresses" not in plain and plain["company"] == {"name": "Kunde AG"}
        assert plain["addresses"]["billing"] == [{"countryCode": "DE"}]
        single = mapping.contact_payload(customer(name=" Cher ", is_person=True))
        assert single["person"] == {"lastName": "Cher"}
        long = mapping.contact_payload(customer(external_id="x" * 2000))
        assert len(long["note"]) == 1000

    def test_a_person_matches_by_first_and_last_name(self) -> None:
        ours = customer(name="Erika  Mustermann", vat_number=None, email=None, is_person=True)
        row = {"id": "p", "person": {"firstName": "erika", "lastName": "MUSTERMANN"}}
        assert mapping.matching_contact([row], ours) == row
        surname_only = {"id": "s", "person": {"lastName": "Mustermann"}}
        other = customer(name="Mustermann", vat_number=None, email=None, is_person=True)
        assert mapping.matching_contact([surname_only], other) == surname_only
        assert mapping.matching_contact([surname_only], ours) is None

    def test_without_vat_numbers_on_both_sides_name_or_email_decides(self) -> None:
        ours = customer(vat_number=None)
        theirs_vat_only = {"id": "1", "company": {"name": "Other", "vatRegistrationId": "DE9"}}
        assert mapping.matching_contact([theirs_vat_only], ours) is None
        renamed = {"id": "2", "company": {"name": "Other", "vatRegistrationId": "DE9"}}
        by_mail = {**renamed, "emailAddresses": {"private": ["buchhaltung@kunde.example"]}}
        assert mapping.matching_contact([by_mail], ours) == by_mail
        no_mail = customer(vat_number=None, email=None, name="Else")
        empty = {"id": "3", "company": {"name": "Other"}, "emailAddresses": {"business": None}}
        assert mapping.matching_contact([empty], no_mail) is None
        nameless = {"id": "4", "company": {"name": None}}
        assert mapping.matching_contact([nameless], no_mail) is None
        ours_vat_only = customer(vat_number="DE1", email=None, name="Kunde AG")
        by_name = {"id": "5", "company": {"name": " kunde   ag "}}
        assert mapping.matching_contact([by_name], ours_vat_only) == by_name


class TestReferenceIn:
    """What reconciliation reads back as a voucher's reference: the line we wrote."""

    @pytest.mark.parametrize(
        ("introduction", "reference"),
        [
            (f"Dear customer,\n{mapping.reference_line('PO-42')}\nThanks", "PO-42"),
            ("  Referenz / Reference:   PO 7  ", "PO 7"),
            ("Referenz / Reference:", None),  # a label with nothing after it
            ("Your reference: PO-42", None),
            ("", None),
        ],
    )
    def test_the_reference_line_is_read(self, introduction: str, reference: str | None) -> None:
        assert mapping.reference_in({"introduction": introduction}) == reference

    def test_a_voucher_without_introduction_has_none(self) -> None:
        assert mapping.reference_in({"introduction": None}) is None
        assert mapping.reference_in({}) is None
