"""The operations of each emulated .asmx service and the ASMX-style WSDL describing them.

One table drives both the WSDL (document/literal, SOAP 1.1 and 1.2 bindings) and dispatch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from invoicesync_sandbox.yuki.soap import YUKI_NS
from invoicesync_sandbox.yuki.xmlout import El, document, el

ParamType = Literal[
    "string",
    "boolean",
    "int",
    "decimal",
    "dateTime",
    "base64Binary",
    "any",
    "SearchOption",
    "DocumentSortOrder",
]
# Enumerations of Archive.asmx, as its published WSDL declares them (s:simpleType).
ENUMS: dict[str, tuple[str, ...]] = {
    "SearchOption": ("All", "Creator", "Contact", "Subject", "Tag", "Type"),
    "DocumentSortOrder": (
        "CreatedDesc",
        "CreatedAsc",
        "ModifiedDesc",
        "ModifiedAsc",
        "DocumentDateDesc",
        "DocumentDateAsc",
        "ContactNameAsc",
        "ContactNameDesc",
    ),
}


@dataclass(frozen=True)
class Param:
    name: str
    type: ParamType = "string"
    optional: bool = False  # minOccurs=0 even for a value type (sandbox leniency)


@dataclass(frozen=True)
class Operation:
    name: str
    params: tuple[Param, ...]
    result: ParamType
    doc: str


_AUTH = (
    Operation("Authenticate", (Param("accessKey"),), "string", "Returns a session ID."),
    Operation("Administrations", (Param("sessionID"),), "any", "Lists the administrations."),
    Operation(
        "AdministrationID",
        (Param("sessionID"), Param("administrationName")),
        "string",
        "Returns the ID of an administration by name.",
    ),
)
_SESSION = Param("sessionID")
_BY_DOCUMENT = (_SESSION, Param("documentID"))
_LIST_WINDOW = (
    Param("sortOrder", "DocumentSortOrder"),
    Param("startDate", "dateTime"),
    Param("endDate", "dateTime"),
    Param("numberOfRecords", "int"),
    Param("startRecord", "int"),
)
_UPLOAD = (
    _SESSION,
    Param("fileName"),
    Param("data", "base64Binary"),
    Param("folder", "int"),
    Param("administrationID"),
)
SERVICES: dict[str, tuple[Operation, ...]] = {
    "Sales": (
        *_AUTH,
        Operation(
            "ProcessSalesInvoices",
            (
                Param("sessionId"),
                Param("administrationId"),
                Param("xmlDoc", "any"),
                Param("disableAutoCorrect", "boolean", optional=True),
            ),
            "any",
            "Imports sales invoices (SalesInvoices.xsd); one result per invoice.",
        ),
        Operation("SalesInvoiceSchemaPath", (), "string", "URL of SalesInvoices.xsd."),
        Operation(
            "GetSalesItems",
            (Param("sessionID"), Param("administrationID")),
            "any",
            "Lists the sales items (products).",
        ),
    ),
    "Accounting": (
        *_AUTH,
        Operation(
            "CheckOutstandingItem",
            (Param("sessionID"), Param("Reference")),
            "any",
            "Open amount of an item by reference, invoice number or document ID (GUID).",
        ),
        Operation(
            "CheckOutstandingItemAdmin",
            (Param("sessionID"), Param("administrationID"), Param("Reference")),
            "any",
            "CheckOutstandingItem limited to one administration.",
        ),
        Operation(
            "OutstandingDebtorItems",
            (
                Param("sessionID"),
                Param("administrationID"),
                Param("includeBankTransactions", "boolean"),
                Param("sortOrder"),
            ),
            "any",
            "Open debtor items: ContactAsc/Desc, AmountAsc/Desc, DateAsc/Desc.",
        ),
        # Parameters in the order public clients send them; that the dates are s:dateTime
        # (ASMX's type for a DateTime) is unverified: clients send yyyy-MM-dd.
        Operation(
            "OutstandingDebtorItemsByDate",
            (
                Param("sessionID"),
                Param("administrationID"),
                Param("includeBankTransactions", "boolean"),
                Param("sortOrder"),
                Param("startDate", "dateTime"),
                Param("endDate", "dateTime"),
            ),
            "any",
            "List of open items in Debtors list by startdate / enddate.",
        ),
    ),
    "AccountingInfo": (
        *_AUTH,
        Operation(
            "GetGLAccountScheme",
            (Param("sessionID"), Param("administrationID")),
            "any",
            "The GL account scheme of an administration.",
        ),
    ),
    "Contact": (
        *_AUTH,
        Operation(
            "SearchContacts",
            (
                Param("sessionID"),
                Param("domainId", optional=True),
                Param("searchOption"),
                Param("searchValue"),
                Param("sortOrder", optional=True),
                Param("modifiedAfter", optional=True),
                Param("active", optional=True),
                Param("pageNumber", "int", optional=True),
            ),
            "any",
            "Searches contacts: searchOption All, Name, Code, VATNumber, CoCNumber.",
        ),
    ),
    # Names, order, types and documentation as in Yuki's published Archive.asmx WSDL (a copy
    # kept by maartendeblock/yuki-api-client, schemas/Archive.asmx.xml): only sessionID and
    # administrationID, never sessionId; the lists take no administration (the session's).
    "Archive": (
        *_AUTH,
        Operation(
            "DocumentFolders", (_SESSION,), "any", "Returns all document folders in the archive"
        ),
        Operation(
            "DocumentsInFolder",
            (_SESSION, Param("folderID", "int"), *_LIST_WINDOW),
            "any",
            "Returns the documents in a given document folder with options to sort, select a "
            "date and select a row number",
        ),
        Operation("FindDocument", _BY_DOCUMENT, "any", "Returns information of one document"),
        Operation(
            "SearchDocuments",
            (
                _SESSION,
                Param("searchOption", "SearchOption"),
                Param("searchText"),
                Param("folderID", "int"),
                Param("tabID", "int"),
                *_LIST_WINDOW,
            ),
            "any",
            "Searches documents using a given search value. Use -1 as Folder or Tab argument to "
            "search all folders or tabs, or '0001-01-01' as date selection to search all years",
        ),
        Operation(
            "DocumentBinaryData",
            _BY_DOCUMENT,
            "base64Binary",
            "Returns the full binary data of the document",
        ),
        Operation(
            "DocumentFile", _BY_DOCUMENT, "any", "Returns the full binary data of the document"
        ),
        Operation("UploadDocument", _UPLOAD, "string", "Upload a document to the Yuki archive"),
        Operation(
            "UploadDocumentWithData",
            (
                *_UPLOAD,
                Param("currency"),
                Param("amount", "decimal"),
                Param("costCategory"),
                Param("paymentMethod", "int"),
                Param("project"),
                Param("remarks"),
            ),
            "string",
            "Upload a document to the Yuki archive, with data specified for the document content",
        ),
        Operation(
            "CostCategories",
            (_SESSION,),
            "any",
            "Retrieve the cost categories for a invoice/receipt",
        ),
    ),
}


def find_operation(service: str, name: str | None) -> Operation | None:
    return next((op for op in SERVICES[service] if op.name == name), None)


def _value_element(param_name: str, kind: ParamType, optional: bool) -> El:
    if kind == "any":
        any_type = el("s:complexType", None, el("s:sequence", None, El("s:any")), mixed="true")
        return el("s:element", None, any_type, minOccurs="0", maxOccurs="1", name=param_name)
    min_occurs = "0" if optional or kind in ("string", "base64Binary") else "1"
    prefix = "tns" if kind in ENUMS else "s"
    return el(
        "s:element",
        None,
        minOccurs=min_occurs,
        maxOccurs="1",
        name=param_name,
        type=f"{prefix}:{kind}",
    )


def _enum_type(name: str) -> El:
    values = [el("s:enumeration", None, value=v) for v in ENUMS[name]]
    restriction = el("s:restriction", None, *values, base="s:string")
    return el("s:simpleType", None, restriction, name=name)


def _wrapper(name: str, children: list[El]) -> El:
    return el(
        "s:element", None, el("s:complexType", None, El("s:sequence", children=children)), name=name
    )


def _schema(ops: tuple[Operation, ...]) -> El:
    schema = el("s:schema", None, elementFormDefault="qualified", targetNamespace=YUKI_NS)
    for op in ops:
        params = [_value_element(p.name, p.type, p.optional) for p in op.params]
        schema.add(_wrapper(op.name, params))
        schema.add(
            _wrapper(f"{op.name}Response", [_value_element(f"{op.name}Result", op.result, False)])
        )
    used = {p.type for op in ops for p in op.params}
    schema.add(*(_enum_type(name) for name in ENUMS if name in used))
    return schema


def _messages(ops: tuple[Operation, ...]) -> list[El]:
    out = []
    for op in ops:
        for suffix, element in (("SoapIn", op.name), ("SoapOut", f"{op.name}Response")):
            part = el("wsdl:part", None, name="parameters", element=f"tns:{element}")
            out.append(el("wsdl:message", None, part, name=f"{op.name}{suffix}"))
    return out


def _port_type(service: str, ops: tuple[Operation, ...]) -> El:
    port = el("wsdl:portType", None, name=f"{service}Soap")
    for op in ops:
        port.add(
            el(
                "wsdl:operation",
                None,
                El("wsdl:documentation", text=op.doc),
                el("wsdl:input", None, message=f"tns:{op.name}SoapIn"),
                el("wsdl:output", None, message=f"tns:{op.name}SoapOut"),
                name=op.name,
            )
        )
    return port


def _binding(service: str, ops: tuple[Operation, ...], prefix: str, suffix: str) -> El:
    binding = el("wsdl:binding", None, name=f"{service}{suffix}", type=f"tns:{service}Soap")
    binding.add(el(f"{prefix}:binding", None, transport="http://schemas.xmlsoap.org/soap/http"))
    for op in ops:
        body = el(f"{prefix}:body", None, use="literal")
        binding.add(
            el(
                "wsdl:operation",
                None,
                el(f"{prefix}:operation", None, soapAction=f"{YUKI_NS}{op.name}", style="document"),
                el("wsdl:input", None, body),
                el("wsdl:output", None, el(f"{prefix}:body", None, use="literal")),
                name=op.name,
            )
        )
    return binding


def render_wsdl(service: str, location: str) -> bytes:
    """The WSDL of ``service`` with both ports at ``location``."""
    ops = SERVICES[service]
    definitions = El(
        "wsdl:definitions",
        {
            "xmlns:soap": "http://schemas.xmlsoap.org/wsdl/soap/",
            "xmlns:tns": YUKI_NS,
            "xmlns:s": "http://www.w3.org/2001/XMLSchema",
            "xmlns:soap12": "http://schemas.xmlsoap.org/wsdl/soap12/",
            "xmlns:wsdl": "http://schemas.xmlsoap.org/wsdl/",
            "targetNamespace": YUKI_NS,
        },
    )
    definitions.add(el("wsdl:types", None, _schema(ops)), *_messages(ops), _port_type(service, ops))
    definitions.add(
        _binding(service, ops, "soap", "Soap"), _binding(service, ops, "soap12", "Soap12")
    )
    definitions.add(
        el(
            "wsdl:service",
            None,
            el(
                "wsdl:port",
                None,
                el("soap:address", None, location=location),
                name=f"{service}Soap",
                binding=f"tns:{service}Soap",
            ),
            el(
                "wsdl:port",
                None,
                el("soap12:address", None, location=location),
                name=f"{service}Soap12",
                binding=f"tns:{service}Soap12",
            ),
            name=service,
        )
    )
    return document(definitions)
