"""Pure parts of Yuki's archive route for purchase documents (Archive.asmx): the file name
that carries our reference and marker, the upload's fields, and the archive's answers read
into plain values. No I/O; lxml stays in here, documents.py and soap.py.

Why the file name: an upload's only searchable text is its Subject, which Yuki sets to the
file name (the sandbox does; unverified for real Yuki), and SearchDocuments finds it by
Subject. Our marker in that name (unique per document) is how a lookup after a lost answer
finds the upload, so a retry never uploads twice.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lxml import etree

from invoicesync_shared.connectors.errors import PermanentError
from invoicesync_shared.connectors.file_limits import MIB, PDF_JPEG_PNG, FileLimits
from invoicesync_shared.connectors.provenance import marker
from invoicesync_shared.events.documents import DocumentSnapshot
from invoicesync_shared.states import FailureCode

# Yuki's folder names are not published (docs/purchase-documents.md): the purchase folder is
# the one Yuki processes whose description names purchases, in Dutch, English, French or
# German (Yuki's languages).
PURCHASE_WORDS = ("inkoop", "purchase", "achat", "einkauf")
# No public source states a limit; ASP.NET's default 4 MB request leaves about 3 MB of file
# in base64 (unverified); the types are the sandbox's, strict (unverified too). The runtime
# applies them before sending, so such a file costs no call.
FILE_LIMITS = FileLimits("Yuki's archive", 3 * MIB, PDF_JPEG_PNG)
MAX_NAME_REFERENCE = 60  # the part of the file name that is our reference (cut, not needed)
FOLDER_NOT_FOUND = "purchase_folder_not_found"
PAYMENT_UNKNOWN = 0  # paymentMethod 0 is "unknown" (one client's comment): Yuki decides
KIND_TITLES = {
    "purchase_invoice": "Purchase invoice",
    "purchase_credit_note": "Purchase credit note",
    "receipt": "Receipt",
}
_EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
_PARSER: Any = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


@dataclass(frozen=True)
class Folder:
    id: int
    description: str
    processed_by_yuki: bool


@dataclass(frozen=True)
class ArchivedDocument:
    """One ``<Document ID>`` of SearchDocuments (or FindDocument)."""

    id: str
    subject: str
    file_name: str
    reference: str  # empty until Yuki's processing books it


@dataclass(frozen=True)
class Upload:
    """The fields of one UploadDocumentWithData call, apart from session and folder."""

    file_name: str
    data: bytes
    currency: str
    amount: Decimal
    remarks: str
    payment_method: int = PAYMENT_UNKNOWN


def token(document_id: uuid.UUID) -> str:
    """Our marker as it can stand in a file name (no colon: not a file name character on
    Windows, where Yuki runs)."""
    return marker(document_id).replace(":", "-")


def upload_for(document: DocumentSnapshot, reference: str, data: bytes) -> Upload:
    """What Yuki's archive gets for a purchase document; raises ``PermanentError`` for a
    document without a file (its size and type the runtime checked: ``FILE_LIMITS``)."""
    if document.file is None:
        raise no_file()
    sign = Decimal(-1) if document.kind == "purchase_credit_note" else Decimal(1)
    return Upload(
        file_name=file_name(document, reference),
        data=data,
        currency=document.currency.upper(),
        amount=(document.gross_total * sign).quantize(Decimal("0.01")),
        remarks=remarks(document),
    )


def no_file() -> PermanentError:
    """A purchase document without a file: the archive has nothing to take."""
    return PermanentError(FailureCode.FILE_MISSING, "The purchase document has no file to send.")


def file_name(document: DocumentSnapshot, reference: str) -> str:
    """``<reference> <marker>.<ext>``: what a bookkeeper sees and what a lookup finds."""
    assert document.file is not None
    head = _UNSAFE.sub("-", reference).strip(" .-")[:MAX_NAME_REFERENCE].rstrip(" .-")
    extension = _EXTENSIONS[document.file.content_type]
    return f"{head} {token(document.id)}{extension}" if head else f"{token(document.id)}{extension}"


def remarks(document: DocumentSnapshot) -> str:
    """For the bookkeeper who processes the upload: kind, number, supplier, the credited
    invoice. Yuki reads the supplier from the file itself."""
    supplier = document.customer
    parts = [f"{KIND_TITLES.get(document.kind, document.kind)} {document.number}"]
    parts.append(f"from {supplier.name}")
    if supplier.vat_number:
        parts.append(f"(VAT {supplier.vat_number})")
    return " ".join(parts)


def purchase_folder(folders: list[Folder]) -> int:
    """The archive folder Yuki processes purchase invoices from."""
    for folder in folders:
        if folder.processed_by_yuki and any(
            word in folder.description.lower() for word in PURCHASE_WORDS
        ):
            return folder.id
    names = ", ".join(f"{f.id} {f.description!r}" for f in folders) or "none"
    raise PermanentError(
        FOLDER_NOT_FOUND,
        f"The Yuki administration has no archive folder for purchase invoices (it has: "
        f"{names}). Ask Yuki support to enable the purchase invoice folder.",
    )


def parse_folders(raw: bytes) -> list[Folder]:
    root = _root(raw)
    if root is None:
        return []
    return [
        Folder(
            id=int(str(node.get("ID") or "0")),
            description=_child_text(node, "Description"),
            processed_by_yuki=_child_text(node, "ProcessedByYuki").lower() == "true",
        )
        for node in _descendants(root, "DocumentFolder")
        if str(node.get("ID") or "").lstrip("-").isdigit()
    ]


def parse_documents(raw: bytes) -> list[ArchivedDocument]:
    root = _root(raw)
    if root is None:
        return []
    return [
        ArchivedDocument(
            id=str(node.get("ID") or "").strip().lower(),
            subject=_child_text(node, "Subject"),
            file_name=_child_text(node, "FileName"),
            reference=_child_text(node, "Reference"),
        )
        for node in _descendants(root, "Document")
        if node.get("ID")
    ]


def _root(raw: bytes) -> Any:
    return etree.fromstring(raw, _PARSER) if raw.strip() else None


def _descendants(node: Any, name: str) -> list[Any]:
    return [e for e in node.iter() if isinstance(e.tag, str) and etree.QName(e).localname == name]


def _child_text(node: Any, name: str) -> str:
    for child in node:
        if isinstance(child.tag, str) and etree.QName(child).localname == name:
            return str(child.text or "").strip()
    return ""
