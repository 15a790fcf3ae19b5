"""Read-only Exact entity sets a connector looks up: current/Me, financial/Journals,
financial/GLAccounts and vat/VATCodes (the division lists are in ``divisions.py``).
"""

from __future__ import annotations

from invoicesync_sandbox.exact.divisions import division_customer_id
from invoicesync_sandbox.exact.odata import Row
from invoicesync_sandbox.exact.resource import Call, Resource
from invoicesync_sandbox.exact.seed import GL_TYPES

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
                "DivisionCustomer": division_customer_id(user.current_division),
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


class Journals(Resource):
    """Unlike GLAccounts, Exact's Journals carry no ``TypeDescription``."""

    path = "financial/Journals"
    type_name = f"{MODEL}.Financial.Journal"
    properties = frozenset({"ID", "Code", "Description", "Division", "Type"})

    def rows(self, call: Call) -> list[Row]:
        division = call.div()
        return [
            {
                "ID": journal.id,
                "Code": journal.code,
                "Description": journal.description,
                "Division": division.code,
                "Type": journal.type,
            }
            for journal in division.journals.values()
        ]


class GLAccounts(Resource):
    path = "financial/GLAccounts"
    type_name = f"{MODEL}.Financial.GLAccount"
    properties = frozenset(
        {"ID", "BalanceSide", "BalanceType", "Code", "Description", "Division", "IsBlocked",
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
                    "Code": gl.code,
                    "Description": gl.description,
                    "Division": division.code,
                    "IsBlocked": False,
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
        {
            "ID",
            "Code",
            "Description",
            "Division",
            "Percentage",
            "Type",
            "VATTransactionType",
            "Charged",
            "IsBlocked",
        }
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
                "VATTransactionType": vat.transaction_type,
                "Charged": False,
                "IsBlocked": vat.blocked,
            }
            for vat in division.vat_codes.values()
        ]
