"""The division lists: hrm/Divisions, system/Divisions and system/AllDivisions.

They share the key (``Code``) but not their shape, and typed clients (strict models)
tell them apart, so each answers with the properties Exact documents for it:
- ``hrm/Divisions``: ``HID`` and ``Main`` (the hosting division); ``Status`` 0 is a
  regular administration, 1 an archived one. It has no ``Current``.
- ``system/Divisions`` and ``system/AllDivisions``: ``Hid``, ``IsMainDivision`` and
  ``Current`` (the division the API used last); ``Status`` 1 is active.
"""

from __future__ import annotations

import uuid

from invoicesync_sandbox.exact.models import Division
from invoicesync_sandbox.exact.odata import Row
from invoicesync_sandbox.exact.resource import Call, Resource

MODEL = "Exact.Web.Api.Models"
_COMMON = frozenset(
    {"Code", "Country", "Created", "Creator", "CreatorFullName", "Currency", "Customer",
     "CustomerCode", "CustomerName", "Description", "Modified", "Modifier",
     "ModifierFullName", "SiretNumber", "StartDate", "Status", "TaxOfficeNumber",
     "TaxReferenceNumber", "VATNumber", "Website"}
)  # fmt: skip
HRM_PROPERTIES = _COMMON | {
    "ArchiveDate", "BlockingStatus", "Class_01", "Class_02", "Class_03", "Class_04",
    "Class_05", "CountryDescription", "CurrencyDescription", "HID", "Main", "OBNumber",
    "TemplateCode",
}  # fmt: skip
SYSTEM_PROPERTIES = _COMMON | {
    "AddressLine1", "AddressLine2", "AddressLine3", "ArchiveDate", "BlockingStatus",
    "BusinessTypeCode", "BusinessTypeDescription", "ChamberOfCommerceEstablishment",
    "ChamberOfCommerceNumber", "City", "Class_01", "Class_02", "Class_03", "Class_04",
    "Class_05", "CompanySizeCode", "CompanySizeDescription", "Current",
    "DatevAccountantNumber", "DatevClientNumber", "DivisionMoveDate", "Email", "Fax", "Hid",
    "IsDossierDivision", "IsMainDivision", "Legislation", "OBNumber", "Phone", "Postcode",
    "SbiCode", "SbiDescription", "SectorCode", "SectorDescription", "ShareCapital", "State",
    "SubsectorCode", "SubsectorDescription", "TemplateCode",
}  # fmt: skip


def division_customer_id(code: int) -> uuid.UUID:
    """The owner account of a division, stable per division code."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"invoicesync-sandbox/exact/division/{code}")


class _Divisions(Resource):
    """The divisions the user may access, in code order."""

    key = "Code"

    def __init__(self, divisions: dict[int, Division]) -> None:
        self.divisions = divisions

    def rows(self, call: Call) -> list[Row]:
        codes = sorted(c for c in call.user.divisions if c in self.divisions)
        return [{**_owner(self.divisions[c]), **self._row(self.divisions[c], call)} for c in codes]

    def _row(self, division: Division, call: Call) -> Row:
        raise NotImplementedError

    def seq(self, call: Call, key: object) -> int:
        return key if isinstance(key, int) else 0


def _owner(division: Division) -> Row:
    return {
        "Code": division.code,
        "Country": "NL",
        "Currency": "EUR",
        "Customer": division_customer_id(division.code),
        "CustomerCode": f"{division.code:>18}",
        "CustomerName": division.customer_name,
        "Description": division.description,
    }


class HrmDivisions(_Divisions):
    path = "hrm/Divisions"
    type_name = f"{MODEL}.HRM.Division"
    properties = HRM_PROPERTIES

    def _row(self, division: Division, call: Call) -> Row:
        return {
            "BlockingStatus": 0,
            "CountryDescription": "Netherlands",
            "CurrencyDescription": "Euro",
            "HID": division.code,
            "Main": division.code == min(call.user.divisions),
            "Status": 0,
            "VATNumber": None,
        }


class SystemDivisions(_Divisions):
    """system/Divisions; with ``path`` also system/AllDivisions, which has the same shape."""

    path = "system/Divisions"
    type_name = f"{MODEL}.System.Division"
    properties = SYSTEM_PROPERTIES

    def __init__(self, divisions: dict[int, Division], path: str | None = None) -> None:
        super().__init__(divisions)
        if path:
            self.path = path

    def _row(self, division: Division, call: Call) -> Row:
        return {
            "Current": division.code == call.user.current_division,
            "Hid": division.code,
            "IsMainDivision": division.code == min(call.user.divisions),
            "Status": 1,
            "VATNumber": None,
        }
