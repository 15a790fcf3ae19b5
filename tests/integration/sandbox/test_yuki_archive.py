"""The sandbox's Yuki Archive.asmx driven by a stock zeep client over real HTTP.

The WSDL's operations and parameter order are Yuki's published ones; uploads land in the
administration's archive and come back through the lists and both downloads.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import requests
import zeep
from lxml import etree
from zeep.exceptions import Fault, TransportError

from invoicesync_sandbox.yuki.archive import MAX_FILE_BYTES, PURCHASE_FOLDER

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
ALL_YEARS = datetime(1, 1, 1)
# Yuki's published Archive.asmx WSDL, in its order (docs/purchase-documents.md).
PUBLISHED = {
    "UploadDocument": ["sessionID", "fileName", "data", "folder", "administrationID"],
    "UploadDocumentWithData": [
        *("sessionID", "fileName", "data", "folder", "administrationID", "currency"),
        *("amount", "costCategory", "paymentMethod", "project", "remarks"),
    ],
    "DocumentFolders": ["sessionID"],
    "SearchDocuments": [
        *("sessionID", "searchOption", "searchText", "folderID", "tabID", "sortOrder"),
        *("startDate", "endDate", "numberOfRecords", "startRecord"),
    ],
    "DocumentBinaryData": ["sessionID", "documentID"],
}


@dataclass
class Archive:
    client: zeep.Client
    session: str
    administration_id: str
    control: str  # the sandbox's view of the administration


@pytest.fixture(scope="module")
def wsdl(sandbox_url: str) -> str:
    return f"{sandbox_url}/yuki/ws/Archive.asmx?WSDL"


def _administration(sandbox_url: str) -> dict[str, Any]:
    name = f"Archive {uuid.uuid4().hex[:8]}"
    answer = requests.post(f"{sandbox_url}/_sandbox/yuki/administrations", json={"name": name})
    assert answer.status_code == 201, answer.text
    data: dict[str, Any] = answer.json()
    return data


@pytest.fixture
def archive(sandbox_url: str, wsdl: str) -> Iterator[Archive]:
    made = _administration(sandbox_url)
    client = zeep.Client(wsdl)  # type: ignore[no-untyped-call]
    session = client.service.Authenticate(accessKey=made["access_key"])
    control = f"{sandbox_url}/_sandbox/yuki/administrations/{made['administration_id']}"
    yield Archive(client, session, made["administration_id"], control)


def upload(archive: Archive, name: str, data: bytes, **overrides: Any) -> str:
    call: dict[str, Any] = {
        "sessionID": archive.session,
        "fileName": name,
        "data": data,
        "folder": PURCHASE_FOLDER,
        "administrationID": archive.administration_id,
        "currency": "EUR",
        "amount": Decimal("121.50"),
        "costCategory": "4500",
        "paymentMethod": 1,
        "project": "",
        "remarks": "Office chairs",
    }
    document_id: str = archive.client.service.UploadDocumentWithData(**{**call, **overrides})
    return document_id


def search(archive: Archive, text: str, folder: int = -1, option: str = "All") -> list[Any]:
    found = archive.client.service.SearchDocuments(
        sessionID=archive.session,
        searchOption=option,
        searchText=text,
        folderID=folder,
        tabID=-1,
        sortOrder="CreatedDesc",
        startDate=ALL_YEARS,
        endDate=ALL_YEARS,
        numberOfRecords=100,
        startRecord=1,
    )
    assert etree.QName(found).localname == "Documents"
    return list(found.findall("Document"))


def purchase_folder(archive: Archive, order: str) -> list[Any]:
    """The purchase folder's first ten documents in ``order`` (DocumentsInFolder): unlike
    the search, no index stands in between."""
    listed = archive.client.service.DocumentsInFolder(
        sessionID=archive.session,
        folderID=PURCHASE_FOLDER,
        sortOrder=order,
        startDate=ALL_YEARS,
        endDate=ALL_YEARS,
        numberOfRecords=10,
        startRecord=1,
    )
    return list(listed.findall("Document"))


def test_the_wsdl_has_yukis_operations_in_yukis_order(sandbox_url: str, wsdl: str) -> None:
    root = etree.fromstring(requests.get(wsdl).content)
    xs = "{http://www.w3.org/2001/XMLSchema}"
    for operation, params in PUBLISHED.items():
        [wrapper] = root.xpath(f"//*[local-name()='element'][@name='{operation}']")
        assert [e.get("name") for e in wrapper.iter(f"{xs}element")][1:] == params
    [address] = root.xpath("//*[local-name()='address']/@location")[:1]
    assert address == f"{sandbox_url}/yuki/ws/Archive.asmx"


def test_an_upload_with_data_is_listed_found_and_downloaded_unchanged(archive: Archive) -> None:
    folders = archive.client.service.DocumentFolders(sessionID=archive.session)
    purchase = folders.find(f"DocumentFolder[@ID='{PURCHASE_FOLDER}']")
    assert purchase.findtext("ProcessedByYuki") == "true"

    name = f"inv-{uuid.uuid4().hex[:6]}.pdf"
    document_id = upload(archive, name, PDF)
    assert uuid.UUID(document_id)

    [hit] = search(archive, name, folder=PURCHASE_FOLDER, option="Subject")
    assert hit.get("ID") == document_id
    assert hit.find("Folder").get("ID") == str(PURCHASE_FOLDER)
    assert hit.find("Folder").text == purchase.findtext("Description")
    assert (hit.findtext("Amount"), hit.findtext("FileName")) == ("121.50", name)
    assert (hit.findtext("ContentType"), hit.findtext("FileSize")) == (
        "application/pdf",
        str(len(PDF)),
    )
    assert search(archive, name, folder=PURCHASE_FOLDER + 1) == []
    in_folder = purchase_folder(archive, "DocumentDateDesc")
    assert [d.get("ID") for d in in_folder] == [document_id]

    service = archive.client.service
    raw = service.DocumentBinaryData(sessionID=archive.session, documentID=document_id)
    assert raw == PDF
    file = service.DocumentFile(sessionID=archive.session, documentID=document_id)
    assert base64.b64decode(file.findtext("FileData")) == PDF
    assert file.findtext("FileName") == name
    [one] = service.FindDocument(sessionID=archive.session, documentID=document_id)
    assert one.get("ID") == document_id
    state = requests.get(archive.control).json()
    [kept] = [d for d in state["archive"] if d["document_id"] == document_id]
    assert (kept["amount"], kept["cost_category"], kept["remarks"]) == (
        "121.50",
        "4500",
        "Office chairs",
    )


def test_a_plain_upload_has_no_amount_and_images_are_taken(archive: Archive) -> None:
    name = f"receipt-{uuid.uuid4().hex[:6]}.png"
    document_id = archive.client.service.UploadDocument(
        sessionID=archive.session,
        fileName=name,
        data=PNG,
        folder=6,
        administrationID=archive.administration_id,
    )
    [hit] = search(archive, name)
    assert (hit.get("ID"), hit.findtext("Amount")) == (document_id, "")
    assert hit.findtext("ContentType") == "image/png"


def test_a_wrong_session_or_another_keys_administration_faults(
    sandbox_url: str, archive: Archive
) -> None:
    service = archive.client.service
    with pytest.raises(Fault, match="session is invalid or has expired"):
        upload(archive, "a.pdf", PDF, sessionID=str(uuid.uuid4()))
    with pytest.raises(Fault, match="session is invalid or has expired"):
        service.DocumentFolders(sessionID="not-a-session")

    document_id = upload(archive, "mine.pdf", PDF)
    other = _administration(sandbox_url)
    stranger = service.Authenticate(accessKey=other["access_key"])
    with pytest.raises(Fault, match="No access to administration"):
        upload(archive, "b.pdf", PDF, sessionID=stranger)
    with pytest.raises(Fault, match="not found"):
        service.DocumentBinaryData(sessionID=stranger, documentID=document_id)


def test_a_file_above_the_cap_faults_and_one_at_the_cap_is_taken(archive: Archive) -> None:
    at_cap = PDF + b"0" * (MAX_FILE_BYTES - len(PDF))
    assert uuid.UUID(upload(archive, "big.pdf", at_cap))
    with pytest.raises(Fault, match="Maximum request length exceeded") as refused:
        upload(archive, "too-big.pdf", at_cap + b"0")
    assert refused.value.code is not None and refused.value.code.endswith("Server")
    assert search(archive, "too-big.pdf") == []


@pytest.mark.parametrize(
    ("name", "data"),
    [("invoice.exe", PDF), ("invoice.pdf", PNG), ("invoice", PDF), ("notes.txt", b"hello")],
)
def test_anything_but_pdf_jpg_or_png_faults(archive: Archive, name: str, data: bytes) -> None:
    with pytest.raises(Fault, match="is not supported: upload a PDF, JPG or PNG file"):
        upload(archive, name, data)
    assert search(archive, name) == []


def test_unknown_folders_categories_and_payment_methods_fault(archive: Archive) -> None:
    with pytest.raises(Fault, match="Folder 99 does not exist"):
        upload(archive, "a.pdf", PDF, folder=99)
    with pytest.raises(Fault, match="Cost category '9999' does not exist"):
        upload(archive, "a.pdf", PDF, costCategory="9999")
    with pytest.raises(Fault, match="Payment method 7 does not exist"):
        upload(archive, "a.pdf", PDF, paymentMethod=7)
    assert search(archive, "a.pdf") == []


def test_injected_faults_reach_the_archive(sandbox_url: str, archive: Archive) -> None:
    fault: dict[str, Any] = {
        "system": "yuki",
        "path_pattern": "Archive\\.asmx",
        "kind": "http_429",
        "count": 1,
    }
    assert requests.post(f"{sandbox_url}/_sandbox/faults", json=fault).status_code == 201
    with pytest.raises(TransportError) as limited:
        upload(archive, "limited.pdf", PDF)
    assert limited.value.status_code == 429
    assert search(archive, "limited.pdf") == []

    late: dict[str, Any] = {**fault, "kind": "drop_response_visible_late", "delay_seconds": 30}
    assert requests.post(f"{sandbox_url}/_sandbox/faults", json=late).status_code == 201
    with pytest.raises(TransportError):
        upload(archive, "late.pdf", PDF)
    assert search(archive, "late.pdf") == []
    advanced = requests.post(f"{sandbox_url}/_sandbox/clock/advance", json={"seconds": 31})
    assert advanced.status_code == 200, advanced.text
    assert [d.findtext("FileName") for d in search(archive, "late.pdf")] == ["late.pdf"]

    unindexed: dict[str, Any] = {**late, "kind": "drop_response_search_late"}
    assert requests.post(f"{sandbox_url}/_sandbox/faults", json=unindexed).status_code == 201
    with pytest.raises(TransportError):
        upload(archive, "unindexed.pdf", PDF)
    assert search(archive, "unindexed.pdf") == []  # the search index lags behind it
    listed = purchase_folder(archive, "CreatedDesc")
    assert "unindexed.pdf" in [d.findtext("FileName") for d in listed]
    advanced = requests.post(f"{sandbox_url}/_sandbox/clock/advance", json={"seconds": 31})
    assert advanced.status_code == 200, advanced.text
    assert [d.findtext("FileName") for d in search(archive, "unindexed.pdf")] == ["unindexed.pdf"]


def test_a_processed_upload_shows_its_booking_number_and_supplier(
    sandbox_url: str, archive: Archive
) -> None:
    """The control API stands for Yuki's processing: the archive document then carries
    the booking's number as Reference and the supplier as ContactName (searchable)."""
    name = f"inv-{uuid.uuid4().hex[:6]}.pdf"
    document_id = upload(archive, name, PDF)
    [before] = search(archive, name, option="Subject")
    assert (before.findtext("Reference"), before.findtext("ContactName")) == ("", "")

    processed = requests.post(
        f"{archive.control}/archive/{document_id}/process", json={"contact_name": "Jansen BV"}
    )
    assert processed.status_code == 200, processed.text
    number = processed.json()["reference"]
    assert number == "INK00001"
    [after] = search(archive, name, option="Subject")
    assert (after.findtext("Reference"), after.findtext("ContactName")) == (number, "Jansen BV")
    [by_contact] = search(archive, "jansen", option="Contact")
    assert by_contact.get("ID") == document_id
    given = requests.post(
        f"{archive.control}/archive/{document_id}/process", json={"reference": "2026-INK-7"}
    )
    assert given.json()["reference"] == "2026-INK-7"
    missing = requests.post(f"{archive.control}/archive/{uuid.uuid4()}/process", json={})
    assert missing.status_code == 404
