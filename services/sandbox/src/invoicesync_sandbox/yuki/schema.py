"""SalesInvoices.xsd: loaded once from package data and applied with lxml.

An invalid document rejects the whole ProcessSalesInvoices call, so validation comes first.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

SALES_NS = "urn:xmlns:http://www.theyukicompany.com:salesinvoices"
XSD_PATH = Path(__file__).parent / "resources" / "SalesInvoices.xsd"
_LOCK = threading.Lock()
_PARSER: Any = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def xsd_bytes() -> bytes:
    return XSD_PATH.read_bytes()


@cache
def _schema() -> Any:
    return etree.XMLSchema(etree.fromstring(xsd_bytes(), _PARSER))


def validation_errors(raw: bytes) -> list[str]:
    """The schema errors of one ``SalesInvoices`` document; empty when it is valid."""
    try:
        doc = etree.fromstring(raw, _PARSER)
    except etree.XMLSyntaxError as exc:
        return [str(exc)]
    with _LOCK:  # an lxml schema object is not shared across threads safely
        schema = _schema()
        if schema.validate(doc):
            return []
        return [f"line {e.line}: {e.message}" for e in schema.error_log]
