"""Purchase documents (issue 24.1): purchase invoices, purchase credit notes and receipts
through the API with their original file, as JSON or multipart; the file's limits; the
sales side's guarantees (idempotent intake, the outbox event, lists and filters); the file
stored once, referenced (never carried) by the event; a connector that does not book the
kind yet refuses it clearly instead of crashing."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Document
from invoicesync_api.integrations import repository as integrations_repository
from invoicesync_api.integrations.brake import DEFAULT_AFTER as BRAKE_AFTER
from invoicesync_api.reconciliations import repository as reconciliation_repository
from invoicesync_api.sync.results import ResultApplier
from invoicesync_shared.connectors import document_files
from invoicesync_shared.connectors.errors import PermanentError
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import DocumentFile, OutboxMessage
from invoicesync_shared.events.documents import PURCHASE_KINDS, DocumentFileRef, DocumentSnapshot
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.states import FailureCode
from tests.integration.api.conftest import add_integration, invoice
from tests.support.producers import RecordingProducer

PROBLEM = "application/problem+json"
PDF = b"%PDF-1.4\n%\xc7\xec\x8f\xa2\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
FAILED = "com.invoicesync.sync.failed"


def purchase(client_id: str, number: str = "AP-0001", **overrides: Any) -> dict[str, Any]:
    """A purchase invoice's body: a sales body with ``supplier`` and a PDF."""
    body = invoice(client_id, number)
    body["supplier"] = body.pop("customer")
    body["file"] = {
        "filename": f"{number}.pdf",
        "content_type": "application/pdf",
        "content_base64": base64.b64encode(PDF).decode(),
    }
    body.update(overrides)
    return body


def multipart(
    client_id: str, number: str, content: bytes, content_type: str, filename: str | None = None
) -> dict[str, Any]:
    """The same body as ``purchase`` makes, as a multipart form: ``document`` and ``file``."""
    fields = purchase(client_id, number)
    del fields["file"]
    return {
        "files": {
            "document": (None, json.dumps(fields), "application/json"),
            "file": (filename or f"{number}.pdf", content, content_type),
        }
    }


async def stored_file(
    sessionmaker: async_sessionmaker[AsyncSession], document_id: str
) -> DocumentFile | None:
    async with sessionmaker() as session:
        return await session.scalar(
            select(DocumentFile).where(DocumentFile.document_id == uuid.UUID(document_id))
        )


async def outbox_of(
    sessionmaker: async_sessionmaker[AsyncSession], document_id: str
) -> list[OutboxMessage]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.envelope["subject"].astext == document_id)
        )
        return list(rows)


async def test_a_purchase_invoice_in_json_is_stored_with_its_file_and_announced_by_reference(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    integration_id = await add_integration(sessionmaker, client_id)
    response = partner.post("/v1/purchase-invoices", json=purchase(client_id))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "purchase_invoice"
    assert body["supplier"]["name"] == "Jansen BV" and "customer" not in body
    digest = hashlib.sha256(PDF).hexdigest()
    assert body["file"]["sha256"] == digest and body["file"]["size"] == len(PDF)
    assert body["totals"] == {"net": "109.99", "vat": "21.90", "gross": "131.89"}
    assert [s["status"] for s in body["sync"]] == ["pending"]

    stored = await stored_file(sessionmaker, body["id"])
    assert stored is not None
    assert stored.content == PDF and stored.sha256 == digest and stored.size == len(PDF)
    assert str(stored.id) == body["file"]["id"]

    [row] = await outbox_of(sessionmaker, body["id"])
    assert row.event_type == "com.invoicesync.purchase_invoice.booked"
    document = row.envelope["data"]["document"]
    assert document["kind"] == "purchase_invoice"
    assert document["file"] == body["file"]  # the reference, ...
    assert base64.b64encode(PDF).decode() not in json.dumps(row.envelope)  # ... never the bytes
    assert row.envelope["data"]["targets"][0]["integration_id"] == str(integration_id)

    # What a connector reads by that reference: the bytes, checked against it.
    ref = DocumentFileRef.model_validate(document["file"])
    assert await document_files.read(sessionmaker, ref) == PDF
    assert await document_files.DocumentFiles(sessionmaker).read(ref) == PDF
    # A push whose file is not the one referred to fails for a reason a person can act on.
    altered = ref.model_copy(update={"sha256": "0" * 64})
    with pytest.raises(PermanentError) as refused:
        await document_files.DocumentFiles(sessionmaker).read(altered)
    assert refused.value.code == FailureCode.FILE_MISSING
    assert ref.filename in refused.value.message

    read = partner.get(f"/v1/purchase-invoices/{body['id']}")
    assert read.status_code == 200 and read.json()["file"] == body["file"]
    # A purchase invoice is no sales invoice.
    assert partner.get(f"/v1/invoices/{body['id']}").status_code == 404


async def test_a_receipt_in_multipart_is_the_same_document_as_in_json(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    response = partner.post(
        "/v1/receipts", **multipart(client_id, "R-1", PNG, "image/png", "R-1.png")
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "receipt"
    assert body["file"]["content_type"] == "image/png"
    assert body["file"]["filename"] == "R-1.png"
    stored = await stored_file(sessionmaker, body["id"])
    assert stored is not None and stored.content == PNG


@pytest.mark.parametrize(
    ("content", "declared", "field", "type_"),
    [
        (b"MZ\x90\x00 an executable", "application/pdf", "file.content_type", "file_type_mismatch"),
        (b"<html>not a pdf</html>", "application/pdf", "file.content_type", "file_type_mismatch"),
        (PDF, "text/html", "file.content_type", "file_type_unsupported"),
        (PNG, "image/jpeg", "file.content_type", "file_type_mismatch"),
    ],
)
def test_a_file_is_typed_by_its_bytes_not_by_what_it_claims(
    partner: httpx.Client, client_id: str, content: bytes, declared: str, field: str, type_: str
) -> None:
    file = {
        "filename": "x.pdf",
        "content_type": declared,
        "content_base64": base64.b64encode(content).decode(),
    }
    for response in (
        partner.post("/v1/purchase-invoices", json=purchase(client_id, file=file)),
        partner.post("/v1/purchase-invoices", **multipart(client_id, "AP-1", content, declared)),
    ):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        assert [(e["field"], e["type"]) for e in response.json()["errors"]] == [(field, type_)]
    assert partner.get("/v1/purchase-invoices").json()["data"] == []


@pytest.mark.parametrize(
    "document", ["not json", "[1, 2]", "[" * 100_000, '{"a": ' * 100_000 + "1" + "}" * 100_000]
)
def test_a_document_part_that_is_no_json_object_is_a_422_naming_it(
    partner: httpx.Client, client_id: str, document: str
) -> None:
    """Also nesting deeper than the JSON parser goes: a 422, never a 500."""
    response = partner.post(
        "/v1/purchase-invoices",
        files={
            "document": (None, document, "application/json"),
            "file": ("AP-1.pdf", PDF, "application/pdf"),
        },
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert [(e["field"], e["type"]) for e in response.json()["errors"]] == [
        ("document", "document_invalid")
    ]


def test_bad_base64_is_a_422_naming_the_field(partner: httpx.Client, client_id: str) -> None:
    body = purchase(client_id)
    encoded = base64.b64encode(PDF).decode()
    # A character outside the alphabet: refused, not skipped (skipped, the rest is a PDF).
    body["file"]["content_base64"] = encoded[:8] + "!" + encoded[8:]
    response = partner.post("/v1/purchase-invoices", json=body)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["file.content_base64"]


def test_a_file_over_the_limit_is_a_413_naming_the_file(
    partner: httpx.Client, client_id: str
) -> None:
    limit = 5 * 1024 * 1024  # the default: Lexware Office's voucher-file limit
    too_large = PDF + b"\x00" * (limit + 1 - len(PDF))
    just_right = PDF + b"\x00" * (limit - len(PDF))
    body = purchase(client_id, file={**purchase(client_id)["file"]})
    body["file"]["content_base64"] = base64.b64encode(too_large).decode()
    for response in (
        partner.post("/v1/purchase-invoices", json=body),
        partner.post("/v1/receipts", **multipart(client_id, "R-2", too_large, "application/pdf")),
    ):
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["code"] == "file_too_large"
        assert [e["field"] for e in response.json()["errors"]] == ["file"]
    body["file"]["content_base64"] = base64.b64encode(just_right).decode()
    assert partner.post("/v1/purchase-invoices", json=body).status_code == 201


async def test_the_same_key_replays_and_stores_one_document_and_one_file(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add_integration(sessionmaker, client_id)
    headers = {"Idempotency-Key": "ap-0001-create"}
    first = partner.post("/v1/purchase-invoices", json=purchase(client_id), headers=headers)
    assert first.status_code == 201, first.text
    # The same file as a multipart part is the same request: replayed.
    again = partner.post(
        "/v1/purchase-invoices",
        **multipart(client_id, "AP-0001", PDF, "application/pdf"),
        headers=headers,
    )
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    # Another file under the same key is another request.
    other = partner.post(
        "/v1/purchase-invoices",
        **multipart(client_id, "AP-0001", PNG, "image/png", "AP-0001.pdf"),
        headers=headers,
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    async with sessionmaker() as session:
        documents = (
            await session.scalars(
                select(Document).where(Document.client_id == uuid.UUID(client_id))
            )
        ).all()
        files = (
            await session.scalars(
                select(DocumentFile).where(DocumentFile.document_id.in_([d.id for d in documents]))
            )
        ).all()
    assert [d.id for d in documents] == [uuid.UUID(first.json()["id"])]
    assert [f.sha256 for f in files] == [hashlib.sha256(PDF).hexdigest()]
    assert len(await outbox_of(sessionmaker, first.json()["id"])) == 1


def test_lists_filters_patch_and_credit_notes_per_kind(
    partner: httpx.Client, client_id: str
) -> None:
    ap = partner.post("/v1/purchase-invoices", json=purchase(client_id, "AP-10"))
    draft = partner.post("/v1/purchase-invoices", json=purchase(client_id, "AP-11", status="draft"))
    receipt = partner.post("/v1/receipts", json=purchase(client_id, "R-10"))
    sale = partner.post("/v1/invoices", json=invoice(client_id, "S-10"))
    assert {r.status_code for r in (ap, draft, receipt, sale)} == {201}

    def ids(path: str, **filters: str) -> set[str]:
        response = partner.get(path, params=filters)
        assert response.status_code == 200, response.text
        return {d["id"] for d in response.json()["data"]}

    assert ids("/v1/purchase-invoices") == {ap.json()["id"], draft.json()["id"]}
    assert ids("/v1/purchase-invoices", status="draft") == {draft.json()["id"]}
    assert ids("/v1/purchase-invoices", booking_number="null") == {
        ap.json()["id"],
        draft.json()["id"],
    }
    assert ids("/v1/purchase-invoices", sync_status="failed") == set()
    assert ids("/v1/receipts") == {receipt.json()["id"]}
    assert ids("/v1/invoices") == {sale.json()["id"]}

    patched = partner.patch(
        f"/v1/purchase-invoices/{ap.json()['id']}",
        json={"supplier": {"external_id": "s9", "name": "Van Dijk BV"}, "due_date": "2027-01-05"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["supplier"]["name"] == "Van Dijk BV"
    assert patched.json()["file"] == ap.json()["file"]  # the file stays as it came
    # A sales field on a purchase document is refused, as any unknown field.
    wrong = partner.patch(
        f"/v1/purchase-invoices/{ap.json()['id']}", json={"customer": {"external_id": "c"}}
    )
    assert wrong.status_code == 422

    credit = purchase(client_id, "APC-1", credit_note_for=ap.json()["id"])
    made = partner.post("/v1/purchase-credit-notes", json=credit)
    assert made.status_code == 201, made.text
    assert made.json()["credit_note_for"] == ap.json()["id"]
    # A purchase credit note credits a purchase invoice, not a sales invoice.
    credit_sale = purchase(client_id, "APC-2", credit_note_for=sale.json()["id"])
    refused = partner.post("/v1/purchase-credit-notes", json=credit_sale)
    assert refused.status_code == 422, refused.text
    assert "purchase invoice" in refused.json()["detail"]


async def test_a_connector_that_does_not_book_purchase_documents_refuses_them_clearly(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The events as the API wrote them, handled by the shared runtime with a connector
    that books sales kinds only (as Exact, Lexware and Yuki do today): no push, a permanent
    failure with its code, in the reader's language. More of them than the failure brake's
    run do not pause the integration: its sales documents still go."""
    integration_id = await add_integration(sessionmaker, client_id)
    fake, producer = FakeConnector(), RecordingProducer()
    runtime = ConnectorRuntime(fake, sessionmaker=sessionmaker, producer=producer)
    applier = ResultApplier(sessionmaker)
    created = []
    for n in range(BRAKE_AFTER + 1):
        response = partner.post("/v1/purchase-invoices", json=purchase(client_id, f"AP-2{n}"))
        assert response.status_code == 201, response.text
        created.append(response.json()["id"])
        [row] = await outbox_of(sessionmaker, created[-1])
        await runtime.handle(Envelope.from_json(row.envelope))

    assert fake.pushes == 0
    failures = producer.of_type(FAILED)
    assert [f.data["code"] for f in failures] == ["kind_not_supported"] * len(created)
    assert all(f.data["retryable"] is False for f in failures)
    assert "not yet supported" in failures[0].data["message"]
    for failure in failures:
        await applier.handle(failure)

    shown = partner.get(
        f"/v1/purchase-invoices/{created[0]}", headers={"Accept-Language": "de"}
    ).json()["sync"][0]
    assert shown["status"] == "failed"
    assert shown["error"]["code"] == "kind_not_supported"
    assert "noch nicht unterstützt" in shown["error"]["message"]
    assert partner.get(f"/v1/integrations/{integration_id}").json()["status"] == "active"


def test_every_connector_books_the_purchase_kinds() -> None:
    """Exact (tests/e2e/test_exact_purchase_documents.py), Lexware
    (tests/e2e/test_lexware_purchases.py) and Yuki (its archive:
    tests/e2e/test_yuki_purchase_documents.py) book them; ``kind_not_supported`` stays for
    a connector that predates a kind."""
    from connector_exact.connector import ExactConnector
    from connector_lexware.connector import LexwareConnector
    from connector_yuki.connector import YukiConnector

    for connector in (ExactConnector, LexwareConnector, YukiConnector):
        assert connector.kinds >= PURCHASE_KINDS, connector


async def test_a_reconciliation_of_the_sales_books_leaves_purchase_documents_out(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The connectors read sales books back; a purchase document is no difference there."""
    integration_id = await add_integration(sessionmaker, client_id)
    sale = partner.post("/v1/invoices", json=invoice(client_id, "S-30"))
    bought = partner.post("/v1/purchase-invoices", json=purchase(client_id, "AP-30"))
    assert sale.status_code == bought.status_code == 201
    async with sessionmaker() as session:
        rows = await reconciliation_repository.documents_of_period(
            session,
            integration_id,
            uuid.UUID(client_id),
            date(2026, 11, 1),
            date(2026, 11, 30),
        )
    assert [str(document.id) for document, _ in rows] == [sale.json()["id"]]


async def test_a_paused_integration_is_resumed_by_what_its_connector_books_not_a_purchase(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The failure brake's auto-resume previews the oldest waiting document: a sales one
    (an older purchase document says nothing about the cause being gone); and a preview
    of a kind the connector does not book is that problem, never a clean sales preview."""
    integration_id = await add_integration(sessionmaker, client_id)
    bought = partner.post("/v1/purchase-invoices", json=purchase(client_id, "AP-40"))
    sale = partner.post("/v1/invoices", json=invoice(client_id, "S-40"))
    assert bought.status_code == sale.status_code == 201
    async with sessionmaker() as session:
        oldest = await integrations_repository.oldest_waiting_document(session, integration_id)
    assert oldest is not None and str(oldest.id) == sale.json()["id"]

    [row] = await outbox_of(sessionmaker, bought.json()["id"])
    snapshot = DocumentSnapshot.model_validate(row.envelope["data"]["document"])
    runtime = ConnectorRuntime(
        FakeConnector(), sessionmaker=sessionmaker, producer=RecordingProducer()
    )
    answer = await runtime.preview(integration_id, snapshot)
    assert answer.payload is None
    assert [(p.code, p.field) for p in answer.problems] == [("kind_not_supported", "kind")]
    assert "not yet supported" in answer.problems[0].message


async def test_a_catch_up_run_leaves_out_what_the_connector_refused_for_its_kind(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Asked again every night it would only fail again; ``…/retry`` sends it later."""
    integration_id = await add_integration(sessionmaker, client_id)
    bought = partner.post("/v1/purchase-invoices", json=purchase(client_id, "AP-50"))
    sale = partner.post("/v1/invoices", json=invoice(client_id, "S-50"))
    assert bought.status_code == sale.status_code == 201
    producer = RecordingProducer()
    runtime = ConnectorRuntime(FakeConnector(), sessionmaker=sessionmaker, producer=producer)
    [row] = await outbox_of(sessionmaker, bought.json()["id"])
    await runtime.handle(Envelope.from_json(row.envelope))
    [failure] = producer.of_type(FAILED)
    await ResultApplier(sessionmaker).handle(failure)
    assert (
        partner.get(f"/v1/purchase-invoices/{bought.json()['id']}").json()["sync"][0]["error"][
            "code"
        ]
        == "kind_not_supported"
    )

    run = partner.post("/v1/sync-runs", json={"integration_id": str(integration_id)})
    assert run.status_code == 202, run.text
    assert run.json()["totals"]["documents_total"] == 1  # the sale, still pending
    assert len(await outbox_of(sessionmaker, bought.json()["id"])) == 1  # not asked again
    assert len(await outbox_of(sessionmaker, sale.json()["id"])) == 2


def test_a_purchase_number_is_unique_per_supplier_a_sales_number_per_client(
    partner: httpx.Client, client_id: str
) -> None:
    """Suppliers number their invoices alike: two suppliers' AP-60 are two documents."""
    first = purchase(client_id, "AP-60")
    other = purchase(client_id, "AP-60")
    other["supplier"] = {**other["supplier"], "external_id": "SUP-OTHER", "name": "Other BV"}
    assert first["supplier"]["external_id"] != other["supplier"]["external_id"]
    assert partner.post("/v1/purchase-invoices", json=first).status_code == 201
    assert partner.post("/v1/purchase-invoices", json=other).status_code == 201
    again = partner.post("/v1/purchase-invoices", json=purchase(client_id, "AP-60"))
    assert again.status_code == 409, again.text
    assert again.json()["existing_id"]
    # A sales number stays the client's own, whoever the customer.
    sale = invoice(client_id, "S-60")
    assert partner.post("/v1/invoices", json=sale).status_code == 201
    sale["customer"] = {**sale["customer"], "external_id": "CUS-OTHER"}
    assert partner.post("/v1/invoices", json=sale).status_code == 409
