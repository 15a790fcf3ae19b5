"""The Yuki connector's preview of a purchase document, through the runtime against the
sandbox: the archive upload it would make (file name with our marker, purchase folder read
from Yuki, amount), nothing uploaded and no file read; a file over the archive's cap is
the preview's problem, named at ``file`` (by the runtime, before any call)."""

from __future__ import annotations

import uuid

from connector_yuki.archive import FILE_LIMITS, token
from invoicesync_shared.events.documents import DocumentFileRef, DocumentSnapshot
from tests.support.yuki import Yuki, document


def purchase(yuki: Yuki, number: str, size: int) -> DocumentSnapshot:
    ref = DocumentFileRef(
        id=uuid.uuid4(),
        filename=f"{number}.pdf",
        content_type="application/pdf",
        size=size,
        sha256="0" * 64,
    )
    sale = document(yuki.integration, number)
    return sale.model_copy(update={"kind": "purchase_invoice", "file": ref})


async def test_a_purchase_preview_shows_the_upload_without_sending_or_reading_it(
    yuki: Yuki,
) -> None:
    bought = purchase(yuki, "INK-9", 2048)  # its file is stored nowhere: never read
    answer = await yuki.runtime.preview(yuki.integration.id, bought)

    assert answer.problems == []
    assert answer.customer is not None and answer.customer.action == "system_matches"
    assert answer.payload == {
        "operation": "UploadDocumentWithData",
        "fileName": f"INK-9 {token(bought.id)}.pdf",
        "folder": 1,
        "currency": "EUR",
        "amount": "242.00",
        "paymentMethod": 0,
        "remarks": "Purchase invoice INK-9 from Acme BV",
        "size": 2048,
    }
    state = await yuki.state()
    assert state["archive"] == [] and "UploadDocumentWithData" not in state["calls"]


async def test_a_file_over_the_archives_cap_is_the_previews_problem(yuki: Yuki) -> None:
    """The runtime answers it from the connector's declared limits: Yuki is not asked."""
    calls = (await yuki.state())["calls"]
    answer = await yuki.runtime.preview(
        yuki.integration.id, purchase(yuki, "INK-10", FILE_LIMITS.max_bytes + 1)
    )
    assert answer.payload is None
    assert [(p.code, p.field) for p in answer.problems] == [("file_too_large", "file")]
    assert "Yuki's archive" in answer.problems[0].message
    assert (await yuki.state())["calls"] == calls
