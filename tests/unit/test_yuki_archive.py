"""The pure parts of Yuki's archive route for purchase documents: the file name that
carries our reference and marker, the amount's sign, the purchase folder found by name,
the file limits declared for the runtime, and the archive's refusals decided as permanent
(they come before anything is stored), not as a write in doubt."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from zeep.exceptions import Fault

from connector_yuki import archive, errors
from connector_yuki.connector import YukiConnector
from invoicesync_shared.connectors.errors import PermanentError, UnknownOutcome
from invoicesync_shared.connectors.provenance import marker
from invoicesync_shared.events.documents import (
    CustomerData,
    DocumentFileRef,
    DocumentLine,
    DocumentSnapshot,
)
from invoicesync_shared.states import FailureCode

SUPPLIER = CustomerData(external_id="s1", name="Jansen BV", vat_number="NL001234567B01")


def purchase(
    kind: str = "purchase_invoice", content_type: str = "application/pdf", size: int = 4
) -> DocumentSnapshot:
    line = DocumentLine(
        description="Paper",
        quantity=Decimal(1),
        unit_price=Decimal("100.00"),
        vat_rate=Decimal(21),
        net_amount=Decimal("100.00"),
        vat_amount=Decimal("21.00"),
    )
    ref = DocumentFileRef(
        id=uuid.uuid4(), filename="scan", content_type=content_type, size=size, sha256="0" * 64
    )
    return DocumentSnapshot(
        id=uuid.uuid4(),
        partner_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        kind=kind,
        external_id="e1",
        number="INK/2026:07",
        issue_date=date(2026, 11, 20),
        currency="eur",
        customer=SUPPLIER,
        lines=[line],
        net_total=Decimal("100.00"),
        vat_total=Decimal("21.00"),
        gross_total=Decimal("121.00"),
        file=ref,
    )


def test_the_file_name_carries_the_reference_and_a_marker_a_search_finds() -> None:
    document = purchase(content_type="image/png")
    upload = archive.upload_for(document, document.number, b"data")
    token = archive.token(document.id)
    assert upload.file_name == f"INK-2026-07 {token}.png"
    assert ":" not in upload.file_name and token == marker(document.id).replace(":", "-")
    assert (upload.currency, upload.amount) == ("EUR", Decimal("121.00"))
    assert upload.remarks == "Purchase invoice INK/2026:07 from Jansen BV (VAT NL001234567B01)"


def test_a_purchase_credit_note_is_sent_with_a_negative_amount() -> None:
    credit = purchase("purchase_credit_note")
    assert archive.upload_for(credit, "C-1", b"x").amount == Decimal("-121.00")
    assert archive.upload_for(purchase("receipt"), "R-1", b"x").amount == Decimal("121.00")


def test_the_archive_declares_its_file_limits_for_the_runtime() -> None:
    """3 MB (unverified) of PDF, JPEG or PNG: the runtime refuses anything else before any
    call (tests/integration/runtime/test_file_limits.py); the upload itself no longer
    checks, so a file at the cap is uploaded as it is."""
    assert YukiConnector.file_limits is archive.FILE_LIMITS
    limits = archive.FILE_LIMITS
    assert limits.max_bytes == 3 * 1024 * 1024
    assert limits.content_types == {"application/pdf", "image/jpeg", "image/png"}
    assert limits.taken_by == "Yuki's archive"
    at_cap = purchase(size=limits.max_bytes)
    assert at_cap.file is not None and limits.refusal(at_cap.file) is None
    assert archive.upload_for(at_cap, "A", b"0" * limits.max_bytes).data
    over = purchase(size=limits.max_bytes + 1)
    assert over.file is not None
    refused = limits.refusal(over.file)
    assert refused is not None and refused.code == FailureCode.FILE_TOO_LARGE


def test_a_purchase_document_without_a_file_is_file_missing() -> None:
    with pytest.raises(PermanentError) as refused:
        archive.upload_for(purchase().model_copy(update={"file": None}), "A", b"")
    assert refused.value.code is FailureCode.FILE_MISSING


def test_the_purchase_folder_is_the_processed_one_named_for_purchases() -> None:
    folders = [
        archive.Folder(6, "Overige documenten", False),
        archive.Folder(2, "Verkoopfacturen", True),
        archive.Folder(9, "Inkoop (oud)", False),
        archive.Folder(1, "Inkoopfacturen", True),
    ]
    assert archive.purchase_folder(folders) == 1
    with pytest.raises(PermanentError) as missing:
        archive.purchase_folder(folders[:3])
    assert missing.value.code == "purchase_folder_not_found"
    assert "'Verkoopfacturen'" in missing.value.message


@pytest.mark.parametrize(
    ("said", "code"),
    [
        ("Maximum request length exceeded.", "file_too_large"),
        (
            "The file type of 'a.gif' is not supported: upload a PDF, JPG or PNG file.",
            "unsupported_file_type",
        ),
        ("Folder 12 does not exist.", "purchase_folder_not_found"),
    ],
)
def test_the_archives_refusals_of_an_upload_are_permanent_not_in_doubt(
    said: str, code: str
) -> None:
    fault = Fault(f"Server was unable to process request. ---> {said}", code="soap:Server")  # type: ignore[no-untyped-call]
    decision = errors.classify_call(fault, is_write=True)
    assert isinstance(decision, PermanentError) and decision.code == code
    other = Fault("Server was unable to process request. ---> Timeout", code="soap:Server")  # type: ignore[no-untyped-call]
    assert isinstance(errors.classify_call(other, is_write=True), UnknownOutcome)
