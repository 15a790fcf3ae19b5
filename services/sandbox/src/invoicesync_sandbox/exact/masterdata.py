"""Read-only Exact entity sets a connector looks up: current/Me, the division lists,
financial/Journals, financial/GLAccounts and vat/VATCodes.
"""

from __future__ import annotations

import uuid

from invoicesync_sandbox.exact.models import Division
from invoicesync_sandbox.exact.odata import Row
from invoicesync_sandbox.exact.resource import Call, Resource
from invoicesync_sandbox.exact.seed import GL_TYPES, JOURNAL_TYPES

MODEL = "Exact.Web.Api.Models"


class Me(Resource):
    path = "current/Me"
    type_name = f"{MODEL}.Me"
    key = "UserID"
    properties = frozenset(
        {"CurrentDivision", "DivisionCustomer", "DivisionCustomerCode", "DivisionCustomerName",
         "Email", "FirstName", "FullName", "Language", "LanguageCode", "LastName",
         "Legislation", "UserID", "UserName", "ServerTime"}
    )  # fmt: skip

    def rows(self, call: Call) -> list[Row]:
        user = call.user
        first, _, last = user.full_name.partition(" ")
        return [
            {
                "CurrentDivision": user.current_division,
                "DivisionCustomer": _customer_id(user.current_division),
                "DivisionCustomerCode": f"{user.current_division:>18}",
                "DivisionCustomerName": "Demo company",
                "Email": user.email,
                "FirstName": first,
                "FullName": user.full_name,
                "Language": "EN",
                "LanguageCode": "en-GB",
                "LastName": last,
                "Legislation": 1,
                "ServerTime": call.now.isoformat(),
                "UserID": user.user_id,
                "UserName": user.user_name,
            }
        ]


def _customer_id(code: int) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"invoicesync-sandbox/exact/division/{code}")


class SystemDivisions(Resource):
    """The divisions the user may access (system/Divisions; also hrm/ and AllDivisions)."""

    path = "system/Divisions"
    type_name = f"{MODEL}.System.Division"
    key = "Code"
    properties = frozenset(
        {"Code", "Country", "Currency", "Current", "Customer", "CustomerCode", "CustomerName",
         "Description", "HID", "Main", "Status", "VATNumber"}
    )  # fmt: skip

    def __init__(self, divisions: dict[int, Division], path: str | None = None) -> None:
        self.divisions = divisions
        if path:
            self.path = path

    def rows(self, call: Call) -> list[Row]:
        codes = sorted(c for c in call.user.divisions if c in self.divisions)
        return [self._row(self.divisions[c], call) for c in codes]

    def _row(self, division: Division, call: Call) -> Row:
        return {
            "Code": division.code,
            "Country": "NL",
            "Currency": "EUR",
            "Current": division.code == call.user.current_division,
            "Customer": _customer_id(division.code),
            "CustomerCode": f"{division.code:>18}",
            "CustomerName": division.customer_name,
            "Description": division.description,
            "HID": division.code,
            "Main": division.code == min(call.user.divisions),
            "Status": 1,
            "VATNumber": None,
        }

    def seq(self, call: Call, key: object) -> int:
        return key if isinstance(key, int) else 0


class Journals(Resource):
    path = "financial/Journals"
    type_name = f"{MODEL}.Financial.Journal"
    properties = frozenset({"ID", "Code", "Description", "Division", "Type", "TypeDescription"})

    def rows(self, call: Call) -> list[Row]:
        division = call.div()
        return [
            {
                "ID": journal.id,
                "Code": journal.code,
                "Description": journal.description,
                "Division": division.code,
                "Type": journal.type,
                "TypeDescription": JOURNAL_TYPES.get(journal.type, ""),
            }
            for journal in division.journals.values()
        ]


class GLAccounts(Resource):
    path = "financial/GLAccounts"
    type_name = f"{MODEL}.Financial.GLAccount"
    properties = frozenset(
        {"ID", "BalanceSide", "BalanceType", "Blocked", "Code", "Description", "Division",
         "Type", "TypeDescription", "VATCode", "VATDescription"}
    )  # fmt: skip

    def rows(self, call: Call) -> list[Row]:
        division = call.div()
        rows: list[Row] = []
        for gl in division.gl_accounts.values():
            vat = division.vat_codes.get(gl.vat_code or "")
            rows.append(
                {
                    "ID": gl.id,
                    "BalanceSide": "C" if gl.type == 110 else "D",
                    "BalanceType": "W" if gl.type == 110 else "B",
                    "Blocked": False,
                    "Code": gl.code,
                    "Description": gl.description,
                    "Division": division.code,
                    "Type": gl.type,
                    "TypeDescription": GL_TYPES.get(gl.type, ""),
                    "VATCode": gl.vat_code,
                    "VATDescription": vat.description if vat else None,
                }
            )
        return rows


class VATCodes(Resource):
    path = "vat/VATCodes"
    type_name = f"{MODEL}.VAT.VATCode"
    properties = frozenset(
        {"ID", "Code", "Description", "Division", "Percentage", "Type", "Charged", "IsBlocked"}
    )

    def rows(self, call: Call) -> list[Row]:
        division = call.div()
        return [
            {
                "ID": vat.id,
                "Code": vat.code,
                "Description": vat.description,
                "Division": division.code,
                "Percentage": vat.percentage,
                "Type": vat.type,
                "Charged": False,
                "IsBlocked": False,
            }
            for vat in division.vat_codes.values()
        ]
