"""Examples for purchase invoices, purchase credit notes and receipts: the sales examples'
story with the counterparty as ``supplier`` and the original file."""

from __future__ import annotations

from typing import Any

from fastapi.openapi.models import Example

from invoicesync_api.examples import documents as sales
from invoicesync_api.examples.documents import DocumentExamples
from invoicesync_api.examples.media import named

# The smallest PDF header a file check takes (a real upload is a whole PDF).
PDF_BASE64 = "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK"
FILE_IN: dict[str, Any] = {
    "filename": "supplier-invoice-4711.pdf",
    "content_type": "application/pdf",
    "content_base64": PDF_BASE64,
}
FILE_OUT: dict[str, Any] = {
    "id": "4c1f8e2a-7b3d-4e9a-b5c6-0d2e8f1a3b47",
    "filename": "supplier-invoice-4711.pdf",
    "content_type": "application/pdf",
    "size": 54,
    "sha256": "aa51f2911220ee9557237ff4c24a074131a52d334fbc6e3d2068942a112ae955",
}
SUPPLIER: dict[str, Any] = {
    "external_id": "supp-7",
    "name": "Van Dijk Groothandel B.V.",
    "vat_number": "NL001234567B01",
    "country": "NL",
}


def _purchase(document: dict[str, Any], kind: str, *, answer: bool) -> dict[str, Any]:
    """A sales example as the purchase ``kind``'s: ``supplier`` for ``customer``, a file."""
    out = {k: v for k, v in document.items() if k != "customer"}
    if "customer" in document:
        out["supplier"] = SUPPLIER
    if answer:
        out.update(kind=kind, file=FILE_OUT)
    elif "customer" in document:
        out["file"] = FILE_IN
    return out


def _named(example: Example, kind: str, *, answer: bool) -> Example:
    value: dict[str, Any] = example.get("value") or {}
    if isinstance(value, dict) and "data" in value:  # a page
        value = {**value, "data": [_purchase(d, kind, answer=True) for d in value["data"]]}
    else:
        value = _purchase(value, kind, answer=answer)
    return named(example["summary"] or "", value, example.get("description"))


def _examples(kind: str, source: DocumentExamples) -> DocumentExamples:
    def answers(examples: dict[str, Example]) -> dict[str, Example]:
        return {name: _named(e, kind, answer=True) for name, e in examples.items()}

    create = {name: _named(e, kind, answer=False) for name, e in source.create.items()}
    return DocumentExamples(
        create=create,
        created=answers(source.created),
        page=answers(source.page),
        read=answers(source.read),
        patch=dict(source.patch),
        patched=answers(source.patched),
        booked=answers(source.booked),
        retried=answers(source.retried),
    )


PURCHASE_INVOICE_EXAMPLES = _examples("purchase_invoice", sales.INVOICE_EXAMPLES)
PURCHASE_DOCUMENT_EXAMPLES = {
    "purchase_invoice": PURCHASE_INVOICE_EXAMPLES,
    "purchase_credit_note": _examples("purchase_credit_note", sales.INVOICE_EXAMPLES),
    "receipt": _examples("receipt", sales.INVOICE_EXAMPLES),
}
PURCHASE_INVOICE_IN = _purchase(sales.INVOICE_IN, "purchase_invoice", answer=False)
PURCHASE_INVOICE_FIELDS = {k: v for k, v in PURCHASE_INVOICE_IN.items() if k != "file"}
PURCHASE_INVOICE_OUT = _purchase(sales.INVOICE_BOOKED, "purchase_invoice", answer=True)
