"""documents/Documents, documents/DocumentAttachments and documents/DocumentTypes: the
file of a purchase invoice, attached to a document that a purchase entry points at.

``Attachment`` is base64 in the JSON body; anything else fails with the conversion error
Exact gives (picqer/exact-php-client #178). The size limit is not documented: the sandbox
is strict and refuses a file above 25 MB with a 413 in the OData error body (unverified,
as are the document type numbers other than 10 sales invoice and 20 purchase invoice).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import TypeVar

from invoicesync_sandbox.exact import booking
from invoicesync_sandbox.exact.errors import ExactError, bad_request
from invoicesync_sandbox.exact.models import Division, Document, DocumentAttachment
from invoicesync_sandbox.exact.odata import Row
from invoicesync_sandbox.exact.resource import Body, Call, Resource, date, integer, text

R = TypeVar("R", Document, DocumentAttachment)
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
DOCUMENT_TYPES = {
    10: "Sales invoice",
    20: "Purchase invoice",
    55: "Miscellaneous",
}
_NOT_BYTES = (
    "Error processing request stream. Error encountered in converting the value from "
    "request payload for property 'Attachment' to type 'Byte[]'"
)


class Documents(Resource):
    path = "documents/Documents"
    type_name = "Exact.Web.Api.Models.Documents.Document"
    properties = frozenset(
        {"ID", "Account", "Created", "Division", "DocumentDate", "FinancialTransactionEntryID",
         "Subject", "Type", "TypeDescription"}
    )  # fmt: skip

    def rows(self, call: Call) -> list[Row]:
        division = call.div()
        return [document_row(division, d) for d in division.documents.values()]

    def create(self, call: Call, body: Body) -> Row:
        self.check_body(body)
        division = call.div()
        subject = _required_text(body, "Subject", 200)
        document_type = integer(body, "Type")
        if document_type is None:
            raise bad_request("Mandatory: Type")
        if document_type not in DOCUMENT_TYPES:
            raise bad_request("Invalid reference: Type")
        document = Document(subject=subject, type=document_type, created=call.now)
        if body.get("Account") is not None:
            document.account = booking.find_customer(division, body["Account"], "Account").id
        if body.get("FinancialTransactionEntryID") is not None:
            entries = division.purchase_entries.keys() | division.entries.keys()
            document.entry_id = booking.reference(
                body, "FinancialTransactionEntryID", entries, "Entry"
            )
        document.document_date = date(body, "DocumentDate")
        return document_row(division, _stored(division, division.documents, document))


class DocumentAttachments(Resource):
    path = "documents/DocumentAttachments"
    type_name = "Exact.Web.Api.Models.Documents.DocumentAttachment"
    properties = frozenset({"ID", "Attachment", "Document", "FileName", "FileSize", "Url"})

    def rows(self, call: Call) -> list[Row]:
        division = call.div()
        return [attachment_row(division, a) for a in division.attachments.values()]

    def create(self, call: Call, body: Body) -> Row:
        self.check_body(body)
        division = call.div()
        document = booking.reference(body, "Document", division.documents)
        file_name = _required_text(body, "FileName", 250)
        data = _decode(body.get("Attachment"))
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise ExactError(413, f"Attachment: maximum size is {MAX_ATTACHMENT_BYTES} bytes")
        attachment = DocumentAttachment(document=document, file_name=file_name, data=data)
        return attachment_row(division, _stored(division, division.attachments, attachment))


class DocumentTypes(Resource):
    path = "documents/DocumentTypes"
    type_name = "Exact.Web.Api.Models.Documents.DocumentType"
    properties = frozenset({"ID", "Description", "TypeCategory"})

    def rows(self, call: Call) -> list[Row]:
        return [
            {"ID": code, "Description": description, "TypeCategory": None}
            for code, description in DOCUMENT_TYPES.items()
        ]

    def seq(self, call: Call, key: object) -> int:
        return key if isinstance(key, int) else 0


def _required_text(body: Body, name: str, limit: int) -> str:
    value = text(body, name, limit)
    if not value:
        raise bad_request(f"Mandatory: {name}")
    return value


def _stored(division: Division, records: dict[uuid.UUID, R], record: R) -> R:
    """Kept in the division, numbered for the order of its pages."""
    records[record.id] = record
    division.remember(record.id)
    return record


def _decode(value: object) -> bytes:
    if value is None or value == "":
        raise bad_request("Mandatory: Attachment")
    if not isinstance(value, str):
        raise bad_request(_NOT_BYTES)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise bad_request(_NOT_BYTES) from exc


def document_row(division: Division, document: Document) -> Row:
    return {
        "ID": document.id,
        "Account": document.account,
        "Created": document.created,
        "Division": division.code,
        "DocumentDate": document.document_date,
        "FinancialTransactionEntryID": document.entry_id,
        "Subject": document.subject,
        "Type": document.type,
        "TypeDescription": DOCUMENT_TYPES[document.type],
    }


def attachment_row(division: Division, attachment: DocumentAttachment) -> Row:
    """``Url`` has Exact's shape; the sandbox does not serve the file there."""
    return {
        "ID": attachment.id,
        "Attachment": None,
        "Document": attachment.document,
        "FileName": attachment.file_name,
        "FileSize": len(attachment.data),
        "Url": _url(division, attachment.id),
    }


def _url(division: Division, ident: uuid.UUID) -> str:
    return f"/docs/SysAttachment.aspx?ID={ident}&_Division_={division.code}"
