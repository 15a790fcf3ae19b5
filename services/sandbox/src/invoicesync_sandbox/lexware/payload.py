"""Validation and totals of invoice and credit-note payloads, following the real rules.

Problems come back as 406 with one ``details[]`` entry per field; small businesses
("Kleinunternehmer") may only send ``vatfree`` vouchers without VAT.

Lexware Office books in EUR only, so any other currency is refused. The range of
``voucherDate`` (1900-01-01 to 2099-12-31) and the precision and size of unit prices (at
most 4 decimals, below 10^11) are **unverified**: not found in Lexware's public docs, so the
sandbox takes the strict choice and refuses what a real organisation might still accept.
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from invoicesync_sandbox.lexware.errors import Violation, validation_error
from invoicesync_sandbox.lexware.store import Organisation

TAX_TYPES = frozenset(
    {
        "net",
        "gross",
        "vatfree",
        "intraCommunitySupply",
        "constructionService13b",
        "externalService13b",
        "thirdPartyCountryService",
        "thirdPartyCountryDelivery",
        "photovoltaicEquipment",
    }
)
TAX_RATES = frozenset({0, 5, 7, 16, 19})
SHIPPING_TYPES = frozenset({"service", "serviceperiod", "delivery", "deliveryperiod", "none"})
PERIOD_TYPES = frozenset({"serviceperiod", "deliveryperiod"})
LINE_TYPES = frozenset({"custom", "text", "service", "material"})
KEPT = (
    "voucherDate",
    "address",
    "lineItems",
    "totalPrice",
    "taxConditions",
    "paymentConditions",
    "shippingConditions",
    "title",
    "introduction",
    "remark",
    "language",
    "archived",
)
CENT = Decimal("0.01")
# Unverified, strict (see the module docstring).
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2099, 12, 31)
PRICE_PLACES = Decimal("0.0001")
PRICE_LIMIT = Decimal(10) ** 11


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _in_range(value: str) -> bool:
    """The day of an ISO date-time as written (its own offset), within the bounds."""
    day = datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    return EARLIEST_DAY <= day <= LATEST_DAY


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _price(where: str, price: dict[str, Any]) -> list[Violation]:
    """A unit price with more than 4 decimals, 10^11 or more, or not finite, is refused."""
    out = []
    for name in ("netAmount", "grossAmount"):
        value = price.get(name)
        if not _is_number(value):
            continue
        amount = Decimal(str(value))
        if not amount.is_finite() or abs(amount) >= PRICE_LIMIT:
            message = "must be less than 100000000000 in absolute value"
        elif amount != amount.quantize(PRICE_PLACES):
            message = "must have at most 4 decimal places"
        else:
            continue
        out.append(Violation(f"{where}.unitPrice.{name}", "NOTVALID", message))
    return out


def _header(body: dict[str, Any]) -> list[Violation]:
    out = []
    if not _is_date(body.get("voucherDate")):
        out.append(Violation("voucherDate", "NOTNULL", "must be an ISO-8601 date-time"))
    elif not _in_range(body["voucherDate"]):
        out.append(
            Violation("voucherDate", "NOTVALID", "must lie between 1900-01-01 and 2099-12-31")
        )
    if (body.get("totalPrice") or {}).get("currency") != "EUR":
        out.append(Violation("totalPrice.currency", "NOTVALID", "must be EUR"))
    if (body.get("taxConditions") or {}).get("taxType") not in TAX_TYPES:
        out.append(Violation("taxConditions.taxType", "NOTVALID", "unknown or missing taxType"))
    return out + _shipping(body.get("shippingConditions"))


def _shipping(shipping: Any) -> list[Violation]:
    if not isinstance(shipping, dict) or shipping.get("shippingType") not in SHIPPING_TYPES:
        return [
            Violation(
                "shippingConditions.shippingType", "NOTVALID", "unknown or missing shippingType"
            )
        ]
    kind = shipping["shippingType"]
    if kind != "none" and not _is_date(shipping.get("shippingDate")):
        return [Violation("shippingConditions.shippingDate", "NOTNULL", "must not be null")]
    if kind in PERIOD_TYPES and not _is_date(shipping.get("shippingEndDate")):
        return [Violation("shippingConditions.shippingEndDate", "NOTNULL", "must not be null")]
    return []


def _address(body: dict[str, Any], org: Organisation) -> list[Violation]:
    address = body.get("address")
    if not isinstance(address, dict):
        return [Violation("address", "NOTNULL", "must not be null")]
    if address.get("contactId"):
        if address["contactId"] not in org.contacts:
            return [Violation("address.contactId", "NOTVALID", "contact does not exist")]
        return []
    return [
        Violation(f"address.{key}", "NOTNULL", "must not be null")
        for key in ("name", "countryCode")
        if not address.get(key)
    ]


def _line(i: int, item: Any, tax_type: str) -> list[Violation]:
    where = f"lineItems[{i}]"
    if not isinstance(item, dict) or item.get("type") not in LINE_TYPES:
        return [Violation(f"{where}.type", "NOTVALID", "unknown line item type")]
    if item["type"] == "text":
        return [] if item.get("name") else [Violation(f"{where}.name", "NOTNULL", "required")]
    out = []
    if not item.get("name"):
        out.append(Violation(f"{where}.name", "NOTNULL", "must not be null"))
    if not _is_number(item.get("quantity")):
        out.append(Violation(f"{where}.quantity", "NOTNULL", "must not be null"))
    price = item.get("unitPrice")
    if not isinstance(price, dict):
        return [*out, Violation(f"{where}.unitPrice", "NOTNULL", "must not be null")]
    if price.get("currency") != "EUR":
        out.append(Violation(f"{where}.unitPrice.currency", "NOTVALID", "must be EUR"))
    amount = "grossAmount" if tax_type == "gross" else "netAmount"
    if not _is_number(price.get(amount)):
        out.append(
            Violation(
                f"{where}.unitPrice.{amount}",
                "NOTNULL",
                f"{amount} required for taxType {tax_type}",
            )
        )
    out += _price(where, price)
    if price.get("taxRatePercentage") not in TAX_RATES:
        out.append(
            Violation(f"{where}.unitPrice.taxRatePercentage", "NOTVALID", "tax rate not allowed")
        )
    return out


def _lines(body: dict[str, Any]) -> list[Violation]:
    items = body.get("lineItems")
    if not isinstance(items, list) or not items:
        return [Violation("lineItems", "NOTEMPTY", "at least one line item is required")]
    tax_type = (body.get("taxConditions") or {}).get("taxType", "net")
    return [v for i, item in enumerate(items) for v in _line(i, item, tax_type)]


def _tax_exemption(body: dict[str, Any], org: Organisation) -> list[Violation]:
    """Tax-exempt organisations (small business) may only send ``vatfree`` without VAT."""
    tax_type = (body.get("taxConditions") or {}).get("taxType")
    exempt = org.small_business or org.tax_type == "vatfree"
    rates = [
        (i, (item.get("unitPrice") or {}).get("taxRatePercentage"))
        for i, item in enumerate(body.get("lineItems") or [])
        if isinstance(item, dict) and item.get("type") != "text"
    ]
    out = []
    if exempt and tax_type != "vatfree":
        out.append(
            Violation(
                "taxConditions.taxType",
                "NOTVALID",
                "small business (Kleinunternehmer) organisations must use vatfree",
            )
        )
    if not exempt and tax_type == "vatfree":
        out.append(
            Violation(
                "taxConditions.taxType",
                "NOTVALID",
                "vatfree is only allowed for tax-exempt organisations",
            )
        )
    if exempt or tax_type == "vatfree":
        out += [
            Violation(
                f"lineItems[{i}].unitPrice.taxRatePercentage",
                "NOTVALID",
                "tax rate must be 0 for vatfree vouchers",
            )
            for i, rate in rates
            if rate not in (0, None)
        ]
    return out


def validate(body: dict[str, Any], org: Organisation) -> None:
    """Raise a 406 with every violation found in ``body``."""
    problems = _header(body) + _address(body, org) + _lines(body)
    if not problems:
        problems = _tax_exemption(body, org)
    if problems:
        raise validation_error(problems)


def _money(value: Decimal) -> float:
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _price_line(item: dict[str, Any], gross_mode: bool) -> tuple[int, Decimal]:
    """Fill both unit prices and ``lineItemAmount``; returns (rate, net amount of the line)."""
    price = item["unitPrice"]
    rate = int(price["taxRatePercentage"])
    factor = 1 + Decimal(rate) / 100
    if gross_mode:
        gross = Decimal(str(price["grossAmount"]))
        net = gross / factor
    else:
        net = Decimal(str(price["netAmount"]))
        gross = net * factor
    price["netAmount"], price["grossAmount"] = _money(net), _money(gross)
    share = Decimal(str(item["quantity"])) * (
        1 - Decimal(str(item.get("discountPercentage", 0))) / 100
    )
    item["lineItemAmount"] = _money((gross if gross_mode else net) * share)
    return rate, net * share


def with_totals(body: dict[str, Any], org: Organisation) -> dict[str, Any]:
    """A stored copy of ``body`` with prices, ``totalPrice`` and ``taxAmounts`` computed."""
    data = {k: copy.deepcopy(body[k]) for k in KEPT if k in body}
    gross_mode = data["taxConditions"]["taxType"] == "gross"
    by_rate: dict[int, Decimal] = {}
    for item in data["lineItems"]:
        if item["type"] != "text":
            rate, net = _price_line(item, gross_mode)
            by_rate[rate] = by_rate.get(rate, Decimal(0)) + net
    taxes = [
        (r, n.quantize(CENT, ROUND_HALF_UP), (n * r / 100).quantize(CENT, ROUND_HALF_UP))
        for r, n in sorted(by_rate.items())
    ]
    total_net = sum((n for _, n, _ in taxes), Decimal(0))
    total_tax = sum((t for _, _, t in taxes), Decimal(0))
    data["totalPrice"] = {
        "currency": "EUR",
        "totalNetAmount": _money(total_net),
        "totalGrossAmount": _money(total_net + total_tax),
        "totalTaxAmount": _money(total_tax),
    }
    data["taxAmounts"] = [
        {"taxRatePercentage": r, "taxAmount": _money(t), "netAmount": _money(n)}
        for r, n, t in taxes
    ]
    contact_id = data["address"].get("contactId")
    if contact_id and not data["address"].get("name"):
        contact = org.contacts[contact_id].data
        company = contact.get("company") or {}
        person = contact.get("person") or {}
        data["address"]["name"] = company.get("name") or " ".join(
            p for p in (person.get("firstName"), person.get("lastName")) if p
        )
    data.setdefault("language", "de")
    data.setdefault("archived", False)
    return data
