"""Purchase documents into Yuki through the API (issue 24): a purchase invoice, a receipt and
a purchase credit note land in the administration's archive with their files, in the
purchase folder Yuki processes; each comes back with the archive document's ID, and with
its booking number once Yuki's processing booked it (read back); a second post with the
same Idempotency-Key uploads nothing; a stock zeep client on the published Archive.asmx
WSDL reads back what the sandbox stored."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
import zeep

from connector_yuki.archive import token
from invoicesync_sandbox.yuki.archive import PURCHASE_FOLDER
from tests.e2e.conftest import document_body, wait_for
from tests.support.integrations import connect
from tests.support.processes import Stack

pytestmark = pytest.mark.e2e
CONNECTORS = ("yuki",)
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
ALL_YEARS = datetime(1, 1, 1)


@pytest.fixture
def yuki(stack: Stack, partner: httpx.Client) -> dict[str, Any]:
    """A client with a Yuki integration on a fresh administration."""
    client = partner.post("/v1/clients", json={"name": "Bakkerij de Vries", "country": "NL"})
    assert client.status_code == 201, client.text
    connected = connect(stack, partner, client.json()["id"], "yuki")
    return {
        "client_id": connected.client_id,
        "administration": {
            "access_key": connected.access_key,
            "administration_id": connected.books,
        },
        "integration_id": connected.integration_id,
    }


def purchase_body(client_id: str, number: str, content: bytes, content_type: str) -> dict[str, Any]:
    body = document_body(client_id, number, customer="supplier-1")
    body["supplier"] = body.pop("customer")
    extension = "pdf" if content_type == "application/pdf" else "png"
    body["file"] = {
        "filename": f"{number}.{extension}",
        "content_type": content_type,
        "content_base64": base64.b64encode(content).decode(),
    }
    return body


def archive_of(stack: Stack, yuki: dict[str, Any]) -> dict[str, Any]:
    control = f"{stack.sandbox_url}/_sandbox/yuki/administrations/"
    state: dict[str, Any] = httpx.get(control + yuki["administration"]["administration_id"]).json()
    return state


def yuki_state(partner: httpx.Client, path: str, document_id: str) -> dict[str, Any]:
    [state] = partner.get(f"{path}/{document_id}").json()["sync"]
    return dict(state)


def test_purchase_documents_reach_the_archive_with_their_files_exactly_once(
    stack: Stack, partner: httpx.Client, yuki: dict[str, Any]
) -> None:
    client_id = yuki["client_id"]
    invoice_body = purchase_body(client_id, "INK-1001", PDF, "application/pdf")
    invoice = partner.post(
        "/v1/purchase-invoices", json=invoice_body, headers={"Idempotency-Key": "yuki-ink-1001"}
    )
    assert invoice.status_code == 201, invoice.text
    credit_body = purchase_body(client_id, "INK-1001-C", PDF, "application/pdf")
    credit_body["credit_note_for"] = invoice.json()["id"]
    posts = {
        "/v1/purchase-invoices": (invoice_body, "yuki-ink-1001", PDF),
        "/v1/receipts": (purchase_body(client_id, "BON-7", PNG, "image/png"), "yuki-bon-7", PNG),
        "/v1/purchase-credit-notes": (credit_body, "yuki-ink-1001-c", PDF),
    }
    created: dict[str, str] = {"/v1/purchase-invoices": invoice.json()["id"]}
    for path, (body, key, _) in list(posts.items())[1:]:
        answer = partner.post(path, json=body, headers={"Idempotency-Key": key})
        assert answer.status_code == 201, answer.text
        created[path] = answer.json()["id"]

    def all_sent() -> dict[str, dict[str, Any]] | None:
        now = {path: yuki_state(partner, path, i) for path, i in created.items()}
        return now if all(s["status"] == "sent" for s in now.values()) else None

    sent = wait_for(all_sent)
    state = archive_of(stack, yuki)
    archived = {d["document_id"]: d for d in state["archive"]}
    assert len(archived) == 3
    # Yuki answers an upload with the archive document's ID; the booking (and its number)
    # is Yuki's processing's to make, so each is sent with that ID and no number yet.
    for path, document_id in created.items():
        remote_id = sent[path]["remote_id"]
        assert sent[path]["booking_number"] is None and sent[path]["sent_at"]
        kept = archived[remote_id]
        assert kept["folder"] == PURCHASE_FOLDER and kept["currency"] == "EUR"
        assert token(uuid.UUID(document_id)) in kept["file_name"]
        assert kept["file_name"].startswith(posts[path][0]["number"])
    amounts = {path: archived[sent[path]["remote_id"]]["amount"] for path in created}
    assert amounts == {
        "/v1/purchase-invoices": "181.50",
        "/v1/receipts": "181.50",
        "/v1/purchase-credit-notes": "-181.50",
    }
    assert state["calls"]["UploadDocumentWithData"] == 3

    # The same posts again under the same keys: replayed, nothing uploaded.
    for path, (body, key, _) in posts.items():
        again = partner.post(path, json=body, headers={"Idempotency-Key": key})
        assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["id"] == created[path]
    assert {path: yuki_state(partner, path, i) for path, i in created.items()} == sent
    after = archive_of(stack, yuki)
    assert len(after["archive"]) == 3 and after["calls"]["UploadDocumentWithData"] == 3

    # A stock SOAP client on the published WSDL reads the very bytes back, and finds each
    # upload by our marker, as the connector's lookup does.
    soap = zeep.Client(f"{stack.sandbox_url}/yuki/ws/Archive.asmx?WSDL")  # type: ignore[no-untyped-call]
    session = soap.service.Authenticate(accessKey=yuki["administration"]["access_key"])
    for path, document_id in created.items():
        remote_id = sent[path]["remote_id"]
        data = soap.service.DocumentBinaryData(sessionID=session, documentID=remote_id)
        assert data == posts[path][2]
        found = soap.service.SearchDocuments(
            sessionID=session,
            searchOption="Subject",
            searchText=token(uuid.UUID(document_id)),
            folderID=-1,
            tabID=-1,
            sortOrder="CreatedAsc",
            startDate=ALL_YEARS,
            endDate=ALL_YEARS,
            numberOfRecords=10,
            startRecord=1,
        )
        assert [d.get("ID") for d in found.findall("Document")] == [remote_id]

    # Yuki's processing books each upload (the sandbox's control API stands for it); the
    # read-back brings the booking's number, and the payment read leaves them alone.
    control = f"{stack.sandbox_url}/_sandbox/yuki/administrations/"
    control += yuki["administration"]["administration_id"]
    numbers = {}
    for path in created:
        processed = httpx.post(
            f"{control}/archive/{sent[path]['remote_id']}/process",
            json={"contact_name": "Supplier supplier-1"},
        )
        assert processed.status_code == 200, processed.text
        numbers[path] = processed.json()["reference"]
    calls_before = archive_of(stack, yuki)["calls"]
    refreshed = partner.post(f"/v1/integrations/{yuki['integration_id']}/refresh")
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["results_emitted"] == 3

    def all_booked() -> dict[str, dict[str, Any]] | None:
        now = {path: yuki_state(partner, path, i) for path, i in created.items()}
        return now if all(s["status"] == "booked" for s in now.values()) else None

    booked = wait_for(all_booked)
    assert {path: s["booking_number"] for path, s in booked.items()} == numbers
    assert {path: s["remote_id"] for path, s in booked.items()} == {
        path: s["remote_id"] for path, s in sent.items()
    }
    again = partner.post(f"/v1/integrations/{yuki['integration_id']}/refresh")
    assert again.status_code == 200 and again.json()["results_emitted"] == 0
    # Nothing about them goes to the open items (an archive document has none).
    assert archive_of(stack, yuki)["calls"] == calls_before

    # An edit is not sent again: the archive takes no change of an upload; the answer says so.
    edited = partner.patch(
        f"/v1/purchase-invoices/{created['/v1/purchase-invoices']}", json={"due_date": "2026-12-31"}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["warnings"] == [
        "This purchase document is already in Yuki's archive; the change is NOT pushed there. "
        "Edit it in Yuki as well."
    ]
    assert (
        yuki_state(partner, "/v1/purchase-invoices", created["/v1/purchase-invoices"])
        == (booked["/v1/purchase-invoices"])
    )


def test_an_upload_whose_answer_is_lost_is_found_by_its_marker_not_uploaded_again(
    stack: Stack, partner: httpx.Client, yuki: dict[str, Any]
) -> None:
    """Yuki stores the file but its answer never arrives: the connector looks the upload
    up by our marker in its file name and reports that one; nothing is uploaded twice."""
    fault = arm_after_warm_up(stack, partner, yuki, {"kind": "drop_response_after_commit"})
    document_id, sent = push_invoice(partner, yuki, "INK-2001")
    assert_uploaded_once(stack, yuki, fault, document_id, sent)


def test_a_lost_upload_that_yukis_search_does_not_show_yet_is_not_uploaded_again(
    stack: Stack, partner: httpx.Client, yuki: dict[str, Any]
) -> None:
    """Yuki stores the file, its answer never arrives, and its search index lags behind
    the upload (SearchDocuments misses it for an hour): the connector finds the upload in
    the purchase folder's newest documents by our marker; nothing is uploaded twice (two
    uploads would book cost and input VAT twice)."""
    fault = arm_after_warm_up(
        stack, partner, yuki, {"kind": "drop_response_search_late", "delay_seconds": 3600}
    )
    document_id, sent = push_invoice(partner, yuki, "INK-2002")
    assert_uploaded_once(stack, yuki, fault, document_id, sent)


def arm_after_warm_up(
    stack: Stack, partner: httpx.Client, yuki: dict[str, Any], fault: dict[str, Any]
) -> str:
    """A first receipt reads the archive's folders, so that ``fault``, armed then on the
    next Archive.asmx POST, hits the upload itself; the fault's id."""
    warm = partner.post(
        "/v1/receipts", json=purchase_body(yuki["client_id"], "BON-1", PNG, "image/png")
    )
    assert warm.status_code == 201, warm.text
    wait_for(lambda: yuki_state(partner, "/v1/receipts", warm.json()["id"])["status"] == "sent")
    armed = httpx.post(
        f"{stack.sandbox_url}/_sandbox/faults",
        json={
            "system": "yuki",
            "path_pattern": "Archive.asmx",
            "method": "POST",
            "count": 1,
            **fault,
        },
    )
    assert armed.status_code == 201, armed.text
    return str(armed.json()["id"])


def push_invoice(
    partner: httpx.Client, yuki: dict[str, Any], number: str
) -> tuple[str, dict[str, Any]]:
    """A purchase invoice posted and sent: its id and its sync state."""
    body = purchase_body(yuki["client_id"], number, PDF, "application/pdf")
    invoice = partner.post("/v1/purchase-invoices", json=body)
    assert invoice.status_code == 201, invoice.text
    path, document_id = "/v1/purchase-invoices", invoice.json()["id"]
    sent = wait_for(
        lambda: s if (s := yuki_state(partner, path, document_id))["status"] == "sent" else None
    )
    return str(document_id), sent


def assert_uploaded_once(
    stack: Stack, yuki: dict[str, Any], fault: str, document_id: str, sent: dict[str, Any]
) -> None:
    """The fault fired, and the archive holds the warm-up and one upload of the document,
    the one its sync state names."""
    faults = httpx.get(f"{stack.sandbox_url}/_sandbox/faults").json()
    assert [f for f in faults["armed"] if f["id"] == fault] == []  # it fired
    state = archive_of(stack, yuki)
    mine = [d for d in state["archive"] if token(uuid.UUID(document_id)) in d["file_name"]]
    assert [d["document_id"] for d in mine] == [sent["remote_id"]]
    assert len(state["archive"]) == 2 and state["calls"]["UploadDocumentWithData"] == 2
