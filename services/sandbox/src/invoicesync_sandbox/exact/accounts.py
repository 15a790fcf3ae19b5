"""crm/Accounts: customers, with Exact's right-aligned 18-character ``Code``.

A filter must match the padded code (``Code eq '               123'``); an unpadded
literal finds nothing, as on the real host. Without a Code, the next number is assigned.

A write may carry any property of Exact's Account (``PaymentConditionSales``,
``IsPurchase``, ...; ossobv's ``ExactCustomer`` sends these): the writable ones are kept
and read back, the computed ones (``…Description``, ``Created``, ...) are ignored, and
only a name Exact does not know is refused.
"""

from __future__ import annotations

import uuid

from invoicesync_sandbox.exact.errors import bad_request, not_found
from invoicesync_sandbox.exact.models import Account, Division
from invoicesync_sandbox.exact.odata import Row
from invoicesync_sandbox.exact.resource import Body, Call, Resource, date, flag, text

CODE_WIDTH = 18
STATUSES = {"A", "S", "P", "C"}  # none, suspect, prospect, customer
EXTRA = (
    "VATNumber", "ChamberOfCommerce", "Email", "Phone", "Website", "AddressLine1",
    "AddressLine2", "AddressLine3", "Postcode", "City", "Country", "Language", "SearchCode",
    "Remarks", "IsSupplier",
)  # fmt: skip
READ_ONLY = ("ID", "Created", "Modified", "Division", "StatusSince")
DATES = frozenset({"ControlledDate", "CustomerSince", "EndDate", "EstablishedDate", "StartDate"})
# Computed by Exact: accepted in a write and ignored.
COMPUTED = frozenset(
    {*READ_ONLY, "AccountManagerFullName", "BankAccounts", "ClassificationDescription",
     "ClientGroupDescription", "CostcenterDescription", "CountryName", "Creator",
     "CreatorFullName", "InvoiceAccountCode", "InvoiceAccountName", "LanguageDescription",
     "LogoThumbnailUrl", "LogoUrl", "Modifier", "ModifierFullName",
     "PaymentConditionPurchaseDescription", "PaymentConditionSalesDescription",
     "PurchaseCurrencyDescription", "PurchaseVATCodeDescription", "ResellerCode",
     "ResellerName", "SalesCurrencyDescription", "SalesTaxScheduleDescription",
     "SalesVATCodeDescription", "StateName"}
)  # fmt: skip
# The other properties of Exact's Account (REST reference, as picqer/exact-php-client
# and exact-online-sdk model it): kept as sent and read back.
STORED = frozenset(
    {"Accountant", "AccountManager", "AccountManagerHID", "ActivitySector",
     "ActivitySubSector", "AddressSource", "AutomaticProcessProposedEntry", "BRIN", "BSN",
     "BusinessType", "CanDropShip", "Classification", "Classification1", "Classification2",
     "Classification3", "Classification4", "Classification5", "Classification6",
     "Classification7", "Classification8", "ClientGroup", "CodeAtSupplier", "CompanySize",
     "ConsolidationScenario", "ControlledDate", "CostPaid", "Costcenter", "CreditLinePurchase",
     "CreditLineSales", "Currency", "CustomField", "CustomerSince", "DatevCreditorCode",
     "DatevDebtorCode", "DeliveryAdvice", "DiscountPurchase", "DiscountSales", "Document",
     "DunsNumber", "EORINumber", "EnableSalesPaymentLink", "EndDate", "EstablishedDate",
     "Fax", "GLAP", "GLAR", "GLAccountPurchase", "GLAccountSales", "GlnNumber",
     "HasWithholdingTaxSales", "IgnoreDatevWarningMessage", "IncotermAddressPurchase",
     "IncotermAddressSales", "IncotermCodePurchase", "IncotermCodeSales",
     "IncotermVersionPurchase", "IncotermVersionSales", "IntraStatArea",
     "IntraStatDeliveryTerm", "IntraStatSystem", "IntraStatTransactionA",
     "IntraStatTransactionB", "IntraStatTransportMethod", "InvoiceAccount",
     "InvoiceAttachmentType", "InvoicingMethod", "IsAccountant", "IsAgency", "IsAnonymised",
     "IsBank", "IsCompetitor", "IsExtraDuty", "IsMailing", "IsMember", "IsPilot",
     "IsPurchase", "IsReseller", "Latitude", "LeadPurpose", "LeadSource", "Logo",
     "LogoFileName", "Longitude", "MainContact", "OINNumber", "Parent", "PayAsYouEarn",
     "PaymentConditionPurchase", "PaymentConditionSales", "PeppolIdentifier",
     "PeppolIdentifierType", "PhoneExtension", "PriceList", "PurchaseCurrency",
     "PurchaseLeadDays", "PurchaseVATCode", "RSIN", "RecepientOfCommissions", "Reseller",
     "SalesCurrency", "SalesTaxSchedule", "SalesTaxScheduleCode", "SalesVATCode",
     "SecurityLevel", "SeparateInvPerProject", "SeparateInvPerSubscription",
     "ShippingLeadDays", "ShippingMethod", "ShowRemarkForSales", "Source", "StartDate",
     "State", "TradeName", "Type", "UniqueTaxpayerReference", "VATLiability"}
)  # fmt: skip


def pad_code(code: str) -> str:
    return code.strip().rjust(CODE_WIDTH)


class Accounts(Resource):
    path = "crm/Accounts"
    type_name = "Exact.Web.Api.Models.Account"
    properties = frozenset(
        {"Code", "Name", "Status", "IsSales", "Blocked", *EXTRA, *COMPUTED, *STORED}
    )

    def rows(self, call: Call) -> list[Row]:
        division = call.div()
        return [account_row(division, a) for a in division.accounts.values()]

    def row(self, call: Call, key: object) -> Row:
        return account_row(call.div(), self._find(call.div(), key))

    def create(self, call: Call, body: Body) -> Row:
        self.check_body(body)
        division = call.div()
        name = text(body, "Name", 100)
        if not name:
            raise bad_request("Mandatory: Name")
        code = self._code(division, text(body, "Code"))
        account = Account(code=code, name=name, created=call.now, modified=call.now)
        _apply(account, body)
        division.accounts[account.id] = account
        division.remember(account.id)
        return account_row(division, account)

    def update(self, call: Call, key: object, body: Body) -> None:
        self.check_body(body)
        division = call.div()
        account = self._find(division, key)
        if "Code" in body:
            account.code = self._code(division, text(body, "Code"), account.id)
        if "Name" in body:
            account.name = text(body, "Name", 100) or account.name
        _apply(account, body)
        account.modified = call.now

    def delete(self, call: Call, key: object) -> None:
        division = call.div()
        account = self._find(division, key)
        if any(entry.customer == account.id for entry in division.entries.values()):
            raise bad_request("The account cannot be deleted: it is used in transactions.")
        del division.accounts[account.id]

    def _find(self, division: Division, key: object) -> Account:
        account = division.accounts.get(key) if isinstance(key, uuid.UUID) else None
        if account is None:
            raise not_found()
        return account

    def _code(self, division: Division, code: str | None, own: uuid.UUID | None = None) -> str:
        if not code or not code.strip():
            return pad_code(str(_highest_numeric_code(division) + 1))
        if len(code.strip()) > CODE_WIDTH:
            raise bad_request(f"Code: maximum length is {CODE_WIDTH}")
        padded = pad_code(code)
        if any(a.code == padded and a.id != own for a in division.accounts.values()):
            raise bad_request(f"Code already exists: {code.strip()}")
        return padded


def _highest_numeric_code(division: Division) -> int:
    numbers = [int(a.code) for a in division.accounts.values() if a.code.strip().isdigit()]
    return max(numbers, default=0)


def _apply(account: Account, body: Body) -> None:
    status = text(body, "Status")
    if status is not None:
        if status not in STATUSES:
            raise bad_request("Invalid value: Status")
        account.status = status
    for name, attribute in (("IsSales", "is_sales"), ("Blocked", "blocked")):
        value = flag(body, name)
        if value is not None:
            setattr(account, attribute, value)
    for name in EXTRA:
        if name in body:
            account.extra[name] = flag(body, name) if name == "IsSupplier" else text(body, name)
    for name in [n for n in body if n in STORED]:
        stored = date(body, name) if name in DATES else body[name]
        if isinstance(stored, dict | list):
            raise bad_request(f"Invalid value: {name}")
        account.extra[name] = stored


def account_row(division: Division, account: Account) -> Row:
    row: Row = {name: None for name in EXTRA}
    row["IsSupplier"] = False
    row.update(account.extra)
    row.update(
        {
            "ID": account.id,
            "Code": account.code,
            "Name": account.name,
            "Status": account.status,
            "StatusSince": account.created,
            "IsSales": account.is_sales,
            "Blocked": account.blocked,
            "Created": account.created,
            "Modified": account.modified,
            "Division": division.code,
        }
    )
    return row
