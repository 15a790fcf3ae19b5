"""Which documents' booking numbers are one series, so that a number given twice in it is a
duplicate (sync/duplicates.py). A sales document's number is the system's sales number,
shared by the sales documents of the integration. A purchase document's is the supplier's
own invoice number (Lexware's voucher number, Yuki's archive Reference): suppliers' numbers
collide, so only the same supplier's documents share it. Exact books purchases in one
purchase journal numbered "last + 1" like the sales journal: all of them share its series."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_

from invoicesync_api.db.models import Document
from invoicesync_shared.events.documents import PURCHASE_KINDS, SALES_KINDS

JOURNAL_NUMBERED_PURCHASES = frozenset({"exact"})


def same_series(document: Document, system: str) -> ColumnElement[bool]:
    """The documents whose booking numbers in ``system`` are in ``document``'s series."""
    if document.kind not in PURCHASE_KINDS:
        return Document.kind.in_(sorted(SALES_KINDS))
    purchases = Document.kind.in_(sorted(PURCHASE_KINDS))
    if system in JOURNAL_NUMBERED_PURCHASES:
        return purchases
    supplier = Document.customer["external_id"].astext
    return and_(purchases, supplier == str(document.customer["external_id"]))
