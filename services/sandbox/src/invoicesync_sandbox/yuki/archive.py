"""Archive.asmx: files uploaded into an administration's archive, listed and read back.

Verified against Yuki's published Archive.asmx WSDL (the copy in maartendeblock/
yuki-api-client, schemas/Archive.asmx.xml) and public clients (jorisvandesande/
yuki-api-client ArchiveClient.php, the Rust crate yuki-client src/client/archive.rs, a Go
Yuki CLI's api types): the operations and their parameters; an upload answers a string,
the new document's ID (two clients); DocumentBinaryData answers base64; the lists take the
session only; the answers' element names (``<DocumentFolders><DocumentFolder ID>``,
``<Documents><Document ID>`` with Subject, DocumentDate, Amount, ``<Folder ID>``, …,
``<Document ID>`` with FileName, FileSize, FileData).
Unverified, so strict (docs/purchase-documents.md): the folder numbers and names, the
cost categories, pdf/jpg/png only, about 3 MB at most, payment methods 0 to 2, a 3-letter
currency, the fault texts, ``startRecord`` counting from 1, that the date window filters on
DocumentDate (the upload day), that an upload's Subject is its file name, the order of a
document's elements, and at most 500 documents per call.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from invoicesync_sandbox.filetypes import by_name, sniff
from invoicesync_sandbox.visibility import is_visible
from invoicesync_sandbox.yuki.params import (
    base64_param,
    date_param,
    decimal_param,
    enum_param,
    int_param,
)
from invoicesync_sandbox.yuki.soap import SoapFault, SoapRequest
from invoicesync_sandbox.yuki.store import Administration, ArchiveDocument, new_guid
from invoicesync_sandbox.yuki.xmlout import El, el, leaf


@dataclass(frozen=True)
class Folder:
    id: int
    description: str
    processed_by_yuki: bool


FOLDERS = (
    Folder(1, "Inkoopfacturen", True),
    Folder(2, "Verkoopfacturen", True),
    Folder(3, "Bankafschriften", True),
    Folder(4, "Personeel", False),
    Folder(5, "Belastingen", False),
    Folder(6, "Overige documenten", False),
)
PURCHASE_FOLDER = 1
COST_CATEGORIES = (
    ("4000", "Algemene kosten"),
    ("4100", "Huisvestingskosten"),
    ("4200", "Vervoerskosten"),
    ("4500", "Kantoorkosten"),
    ("7000", "Inkoopwaarde"),
)
PAYMENT_METHODS = (0, 1, 2)  # unknown, transfer, direct collection (one client's comment)
# ASP.NET's default request limit is 4 MB; a file in base64 takes 4/3 of its size, so about
# 3 MB fits. Yuki may have raised the limit; until a source says so the sandbox keeps it.
MAX_FILE_BYTES = 3 * 1024 * 1024
MAX_RECORDS = 500
ALL_YEARS = date(1, 1, 1)
CREATOR = "Webservice"
_CURRENCY = re.compile(r"[A-Z]{3}")


def refused(message: str) -> SoapFault:
    return SoapFault(f"Server was unable to process request. ---> {message}")


# -- upload -----------------------------------------------------------------


def upload(admin: Administration, request: SoapRequest, now: float, with_data: bool) -> str:
    """Keep the file in ``admin``'s archive; the new document's ID."""
    data = base64_param(request, "data")
    if len(data) > MAX_FILE_BYTES:
        raise refused("Maximum request length exceeded.")
    if not data:
        raise refused("The document is empty.")
    file_name = (request.param("fileName") or "").strip()
    if not file_name:
        raise refused("fileName is required.")
    content_type = _file_type(file_name, data)
    folder = int_param(request, "folder")
    if all(f.id != folder for f in FOLDERS):
        raise refused(f"Folder {folder} does not exist.")
    doc = ArchiveDocument(
        id=new_guid(),
        administration_id=admin.id,
        file_name=file_name,
        content_type=content_type,
        data=data,
        folder=folder,
        created=now,
        document_date=_day(now),
    )
    if with_data:
        _take_data(doc, request)
    admin.archive[doc.id] = doc
    return doc.id


def _file_type(file_name: str, data: bytes) -> str:
    """pdf, jpg or png, by name *and* content: the two must agree."""
    named, found = by_name(file_name), sniff(data)
    if named is None or found != named:
        raise refused(
            f"The file type of '{file_name}' is not supported: upload a PDF, JPG or PNG file."
        )
    return found


def _take_data(doc: ArchiveDocument, request: SoapRequest) -> None:
    currency = (request.param("currency") or "").strip() or "EUR"
    if not _CURRENCY.fullmatch(currency):
        raise refused(f"Currency '{currency}' is not valid.")
    cost_category = (request.param("costCategory") or "").strip()
    if cost_category and all(code != cost_category for code, _ in COST_CATEGORIES):
        raise refused(f"Cost category '{cost_category}' does not exist.")
    payment_method = int_param(request, "paymentMethod")
    if payment_method not in PAYMENT_METHODS:
        raise refused(f"Payment method {payment_method} does not exist.")
    doc.currency = currency
    doc.amount = decimal_param(request, "amount")
    doc.cost_category = cost_category
    doc.payment_method = payment_method
    doc.project = (request.param("project") or "").strip()
    doc.remarks = (request.param("remarks") or "").strip()


def process(
    admin: Administration, doc: ArchiveDocument, now: float, reference: str | None, contact: str
) -> None:
    """Yuki's processing (or its bookkeeper) books an upload: it gets the booking's number
    as its Reference (Yuki's numbering is unpublished: the sandbox counts per
    administration, ``INK`` and five digits) and the supplier read from the file."""
    if not reference:
        admin.archive_bookings += 1
        reference = f"INK{admin.archive_bookings:05d}"
    doc.reference, doc.contact_name, doc.modified = reference, contact, now


# -- reads ------------------------------------------------------------------


def _readable(admins: list[Administration], now: float) -> list[ArchiveDocument]:
    return [d for a in admins for d in a.archive.values() if is_visible(d, now)]


def find(admins: list[Administration], document_id: str | None, now: float) -> ArchiveDocument:
    wanted = (document_id or "").strip().lower()
    for doc in _readable(admins, now):
        if doc.id == wanted:
            return doc
    raise refused(f"Document '{document_id or ''}' not found.")


def folders() -> El:
    return El(
        "DocumentFolders",
        {"xmlns": ""},
        [
            el(
                "DocumentFolder",
                None,
                leaf("Description", f.description),
                leaf("ProcessedByYuki", f.processed_by_yuki),
                ID=str(f.id),
            )
            for f in FOLDERS
        ],
    )


def cost_categories() -> El:
    return El(
        "CostCategories",
        {"xmlns": ""},
        [el("CostCategory", None, leaf("Description", d), ID=c) for c, d in COST_CATEGORIES],
    )


def search(admins: list[Administration], request: SoapRequest, now: float) -> El:
    """SearchDocuments: text in the chosen fields; -1 for any folder or tab. Its index may
    lag behind an upload (``drop_response_search_late``): DocumentsInFolder does not."""
    option = enum_param(request, "searchOption", "SearchOption")
    text = (request.param("searchText") or "").strip().lower()
    folder, tab = int_param(request, "folderID"), int_param(request, "tabID")
    docs = [
        d
        for d in _readable(admins, now)
        if d.indexed_from <= now
        and folder in (-1, d.folder)
        and tab == -1
        and _hit(d, option, text)
    ]
    return _listing(docs, request)


def in_folder(admins: list[Administration], request: SoapRequest, now: float) -> El:
    folder = int_param(request, "folderID")
    return _listing([d for d in _readable(admins, now) if d.folder == folder], request)


def _hit(doc: ArchiveDocument, option: str, text: str) -> bool:
    """Uploads carry no contact, tag or type until Yuki processes them."""
    fields: dict[str, tuple[str, ...]] = {
        "Creator": (CREATOR,),
        "Subject": (doc.file_name,),
        "Contact": (doc.contact_name,) if doc.contact_name else (),
        "Tag": (),
        "Type": (),
    }
    haystack = [v for vs in fields.values() for v in vs] if option == "All" else fields[option]
    return not text or any(text in value.lower() for value in haystack)


_SORT_KEYS: dict[str, Callable[[ArchiveDocument], tuple[object, ...]]] = {
    "Created": lambda d: (d.created, d.id),
    "Modified": lambda d: (d.created, d.id),
    "DocumentDate": lambda d: (d.document_date, d.created, d.id),
    "ContactName": lambda d: ("", d.created, d.id),
}


def _listing(docs: list[ArchiveDocument], request: SoapRequest) -> El:
    """The window every list takes: sort order, DocumentDate range (0001-01-01: open),
    numberOfRecords (at most 500) from startRecord (the first is 1; 0 is taken as 1)."""
    order = enum_param(request, "sortOrder", "DocumentSortOrder")
    start, end = date_param(request, "startDate"), date_param(request, "endDate")
    count = max(0, min(int_param(request, "numberOfRecords"), MAX_RECORDS))
    first = max(int_param(request, "startRecord"), 1) - 1
    kept = [
        d
        for d in docs
        if (start == ALL_YEARS or d.document_date >= start)
        and (end == ALL_YEARS or d.document_date <= end)
    ]
    field = order.removesuffix("Desc").removesuffix("Asc")
    kept.sort(key=_SORT_KEYS[field], reverse=order.endswith("Desc"))
    return El("Documents", {"xmlns": ""}, [document(d) for d in kept[first : first + count]])


def document(doc: ArchiveDocument) -> El:
    folder = next(f for f in FOLDERS if f.id == doc.folder)
    created = _stamp(doc.created)
    return el(
        "Document",
        None,
        leaf("Subject", doc.file_name),
        leaf("DocumentDate", doc.document_date.isoformat()),
        leaf("Amount", "" if doc.amount is None else f"{doc.amount:.2f}"),
        el("Folder", folder.description, ID=str(folder.id)),
        El("Tab"),
        leaf("Type", ""),
        leaf("TypeDescription", ""),
        leaf("FileName", doc.file_name),
        leaf("ContentType", doc.content_type),
        leaf("FileSize", len(doc.data)),
        leaf("ContactName", doc.contact_name),
        leaf("Reference", doc.reference),
        leaf("Created", created),
        leaf("Creator", CREATOR),
        leaf("Modified", created if doc.modified is None else _stamp(doc.modified)),
        leaf("Modifier", CREATOR),
        ID=doc.id,
    )


def found(doc: ArchiveDocument) -> El:
    """FindDocument's answer: the one document inside ``<Documents>``."""
    return El("Documents", {"xmlns": ""}, [document(doc)])


def file(doc: ArchiveDocument) -> El:
    """DocumentFile's answer: name, size and the bytes in base64."""
    return El(
        "Document",
        {"xmlns": "", "ID": doc.id},
        [
            leaf("FileName", doc.file_name),
            leaf("FileSize", len(doc.data)),
            leaf("FileData", binary(doc)),
        ],
    )


def binary(doc: ArchiveDocument) -> str:
    return base64.b64encode(doc.data).decode("ascii")


def _day(now: float) -> date:
    return datetime.fromtimestamp(now, UTC).date()


def _stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S")
