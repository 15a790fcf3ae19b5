"""``/v1/posting-categories``, ``/v1/countries`` and ``/v1/payment-conditions``: master data.

All three answer with a plain JSON array (no Spring page), as the real endpoints do.
Income category ids are the ones Lexware documents for bookkeeping vouchers; the outgo ids
and every payment-condition id are made up by the sandbox (stable per organisation).
"""

# No postponed annotations here: FastAPI must resolve the local ``CallerDep`` alias.

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from invoicesync_sandbox.lexware.auth import Caller
from invoicesync_sandbox.lexware.env import Env

_SANDBOX_NS = uuid.UUID("5b6f3c2e-6c1b-4a0e-9d51-1e7d3c0a9f42")


def _made_up_id(name: str) -> str:
    return str(uuid.uuid5(_SANDBOX_NS, name))


# Income categories: (id, name, contactRequired). The ones needing a contact (EU delivery,
# §13b, export) allow no split; all sit in the group "Einnahmen".
_INCOME: tuple[tuple[str, str, bool], ...] = (
    ("8f8664a8-fd86-11e1-a21f-0800200c9a66", "Warenverkäufe", False),
    ("8f8664a0-fd86-11e1-a21f-0800200c9a66", "Dienstleistungen", False),
    ("8f8664a1-fd86-11e1-a21f-0800200c9a66", "Einnahmen", False),
    ("7a1efa0e-6283-4cbf-9583-8e88d3ba5960", "Einnahmen als Kleinunternehmer (§19 UStG)", False),
    ("9075a4e3-66de-4795-a016-3889feca0d20", "Innergemeinschaftliche Lieferung", True),
    ("380a20cb-d04c-426e-b49c-84c22adfa362", "Leistungen nach §13b UStG", True),
    ("93d24c20-ea84-424e-a731-5e1b78d1e6a9", "Ausfuhrlieferung", True),
    ("ef5b1a6e-f690-4004-9a19-91276348894f", "Dienstleistung Drittland", True),
)
# Outgo categories: (name, groupName); ids made up by the sandbox.
_OUTGO: tuple[tuple[str, str], ...] = (
    ("Wareneinkauf", "Waren, Roh- und Hilfsstoffe"),
    ("Bürobedarf", "Bürokosten"),
    ("Miete", "Raumkosten"),
)

_EU = {
    "AT": ("Österreich", "Austria"),
    "BE": ("Belgien", "Belgium"),
    "BG": ("Bulgarien", "Bulgaria"),
    "CY": ("Zypern", "Cyprus"),
    "CZ": ("Tschechien", "Czech Republic"),
    "DK": ("Dänemark", "Denmark"),
    "EE": ("Estland", "Estonia"),
    "ES": ("Spanien", "Spain"),
    "FI": ("Finnland", "Finland"),
    "FR": ("Frankreich", "France"),
    "GR": ("Griechenland", "Greece"),
    "HR": ("Kroatien", "Croatia"),
    "HU": ("Ungarn", "Hungary"),
    "IE": ("Irland", "Ireland"),
    "IT": ("Italien", "Italy"),
    "LT": ("Litauen", "Lithuania"),
    "LU": ("Luxemburg", "Luxembourg"),
    "LV": ("Lettland", "Latvia"),
    "MT": ("Malta", "Malta"),
    "NL": ("Niederlande", "Netherlands"),
    "PL": ("Polen", "Poland"),
    "PT": ("Portugal", "Portugal"),
    "RO": ("Rumänien", "Romania"),
    "SE": ("Schweden", "Sweden"),
    "SI": ("Slowenien", "Slovenia"),
    "SK": ("Slowakei", "Slovakia"),
}
_THIRD = {
    "CH": ("Schweiz", "Switzerland"),
    "GB": ("Vereinigtes Königreich", "United Kingdom"),
    "LI": ("Liechtenstein", "Liechtenstein"),
    "NO": ("Norwegen", "Norway"),
    "TR": ("Türkei", "Turkey"),
    "US": ("Vereinigte Staaten von Amerika", "United States of America"),
}

# (key, organizationDefault, label template, duration in days, discount % and days or None)
_PAYMENT_CONDITIONS: tuple[tuple[str, bool, str, int, tuple[float, int] | None], ...] = (
    ("immediately", True, "Zahlbar sofort, rein netto", 0, None),
    ("14-days", False, "Zahlbar innerhalb von {paymentRange} Tagen ohne Abzug.", 14, None),
    (
        "30-days-2-percent",
        False,
        "{discountRange} Tage -{discount}, {paymentRange} Tage netto",
        30,
        (2.0, 10),
    ),
)


def _category(cid: str, name: str, kind: str, contact_required: bool, group: str) -> dict[str, Any]:
    return {
        "id": cid,
        "name": name,
        "type": kind,
        "contactRequired": contact_required,
        "splitAllowed": not contact_required,
        "groupName": group,
    }


def posting_categories() -> list[dict[str, Any]]:
    income = [_category(cid, name, "income", needs, "Einnahmen") for cid, name, needs in _INCOME]
    outgo = [
        _category(_made_up_id(f"outgo:{name}"), name, "outgo", False, group)
        for name, group in _OUTGO
    ]
    return income + outgo


def countries() -> list[dict[str, str]]:
    rows = [("DE", ("Deutschland", "Germany"), "de")]
    rows += [(code, names, "intraCommunity") for code, names in _EU.items()]
    rows += [(code, names, "thirdPartyCountry") for code, names in _THIRD.items()]
    return [
        {
            "countryCode": code,
            "countryNameEN": en,
            "countryNameDE": de,
            "taxClassification": classification,
        }
        for code, (de, en), classification in sorted(rows)
    ]


def payment_conditions(organization_id: str) -> list[dict[str, Any]]:
    """The organisation's payment conditions; ``paymentDiscountConditions`` is one object."""
    out = []
    for key, default, template, days, discount in _PAYMENT_CONDITIONS:
        row: dict[str, Any] = {
            "id": _made_up_id(f"{organization_id}:payment-condition:{key}"),
            "organizationId": organization_id,
            "organizationDefault": default,
            "paymentTermLabelTemplate": template,
            "paymentTermDuration": days,
        }
        if discount is not None:
            row["paymentDiscountConditions"] = {
                "discountPercentage": discount[0],
                "discountRange": discount[1],
            }
        out.append(row)
    return out


def register(router: APIRouter, env: Env) -> None:
    # ``caller`` is unused below, but resolving it is what checks the key and the limit.
    CallerDep = Annotated[Caller, Depends(env.caller)]

    @router.get("/v1/posting-categories")
    async def list_posting_categories(caller: CallerDep) -> list[dict[str, Any]]:
        return posting_categories()

    @router.get("/v1/countries")
    async def list_countries(caller: CallerDep) -> list[dict[str, str]]:
        return countries()

    @router.get("/v1/payment-conditions")
    async def list_payment_conditions(caller: CallerDep) -> list[dict[str, Any]]:
        return payment_conditions(caller.org.id)
