"""Purchase documents for the chaos suite: small files, several per supplier, some suppliers
sharing a customer's external id (and name), posted to the clients whose connector books
purchase kinds (Lexware's only once it declares them)."""

from __future__ import annotations

import base64
from typing import Any

from connector_lexware.connector import LexwareConnector
from invoicesync_shared.events.documents import PURCHASE_KINDS
from tests.support.integrations import ConnectedClient, invoice_body

# Where each purchase kind is posted and listed.
PATHS = {
    "purchase_invoice": "purchase-invoices",
    "receipt": "receipts",
    "purchase_credit_note": "purchase-credit-notes",
}
# Of every six: four purchase invoices, a receipt and a purchase credit note.
KINDS = (
    "purchase_invoice",
    "purchase_invoice",
    "receipt",
    "purchase_invoice",
    "purchase_invoice",
    "purchase_credit_note",
)
SUPPLIERS_PER_CLIENT = 2  # the first shares its external id and name with a customer
PDF = b"%PDF-1.4\n%\xc7\xec\x8f\xa2\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def books_purchases(system: str) -> bool:
    """Exact and Yuki book purchase kinds; Lexware once its connector declares them."""
    return system != "lexware" or bool(LexwareConnector.kinds & PURCHASE_KINDS)


def purchase_bodies(clients: list[ConnectedClient], count: int) -> dict[str, list[dict[str, Any]]]:
    """``count`` purchase documents spread over the clients that book them, by collection
    path; the kinds alternate, each supplier gets several."""
    takers = [c for c in clients if books_purchases(c.system)]
    by_path: dict[str, list[dict[str, Any]]] = {path: [] for path in PATHS.values()}
    for n in range(count):
        client = takers[n % len(takers)]
        index = clients.index(client)
        shared = (n // len(takers)) % SUPPLIERS_PER_CLIENT == 0
        number = f"PU{index:02d}-{n:05d}"
        # A customer's external id (and name) for the first supplier: the sales side posts
        # invoices to customer ``c{index}-k0`` too.
        body = invoice_body(client, number, f"c{index}-k0" if shared else f"s{index}-1")
        body["supplier"] = body.pop("customer")
        if not shared:
            body["supplier"]["name"] = f"Supplier s{index}-1"
        body["file"] = {
            "filename": f"{number}.pdf",
            "content_type": "application/pdf",
            "content_base64": base64.b64encode(PDF + number.encode()).decode(),
        }
        kind = KINDS[n % len(KINDS)]
        by_path[PATHS[kind]].append(body)
    return by_path
