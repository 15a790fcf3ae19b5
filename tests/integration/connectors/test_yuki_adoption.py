"""After an unknown outcome the Yuki connector adopts only the booked item that is provably
ours (our marker in the Subject, which the item shows as its Description; date and total
agree), against the sandbox over real SOAP. Yuki's lookup matches references ignoring case,
so another document's item with a reference like ours answers too."""

from __future__ import annotations

from datetime import date

from lxml import etree
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connector_yuki import documents
from connector_yuki.soap import YukiSoap
from invoicesync_shared.connectors.provenance import marker
from invoicesync_shared.db.models import LedgerEntry
from invoicesync_shared.events.documents import DocumentSnapshot
from tests.support.yuki import (
    SOAP_TIMEOUT,
    Yuki,
    document,
    verify,
)

Sessions = async_sessionmaker[AsyncSession]


async def _typed_by_hand(yuki: Yuki, like: DocumentSnapshot) -> None:
    """An invoice booked in Yuki by another hand: ``like``'s data, no marker in its Subject."""
    raw = documents.sales_invoice(like, reference=like.number, default_gl_account="8100")
    invoice = etree.fromstring(raw)
    [subject] = [e for e in invoice if etree.QName(e).localname == "Subject"]
    subject.text = f"Invoice {like.number}"
    soap = YukiSoap(f"{yuki.url}/yuki", timeout=SOAP_TIMEOUT)
    try:
        session = await soap.authenticate(yuki.access_key)
        xml_doc = documents.sales_invoices([documents.SalesInvoiceXml(etree.tostring(invoice))])
        [result] = await soap.process_sales_invoices(session, yuki.administration_id, xml_doc)
        assert result.succeeded, result.message
    finally:
        await soap.aclose()


async def _fault(yuki: Yuki, kind: str) -> None:
    await verify(yuki.connector, yuki.integration)  # a session first: the fault hits the push
    await yuki.post(
        "/_sandbox/faults",
        {
            "system": "yuki",
            "path_pattern": "Sales.asmx",
            "method": "POST",
            "kind": kind,
            "count": 1,
        },
    )


async def test_last_years_item_with_a_reference_like_ours_is_not_adopted(yuki: Yuki) -> None:
    last_year = document(yuki.integration, "inv-y1", day=date(2023, 3, 1), price="40.00")
    await _typed_by_hand(yuki, last_year)
    ours = document(yuki.integration, "INV-Y1")
    await _fault(yuki, "drop_response_after_commit")

    await yuki.sync(ours)

    assert yuki.failed() == {}
    booked = yuki.booked()[str(ours.id)]
    by_reference = {d["reference"]: d for d in (await yuki.state())["documents"]}
    assert sorted(by_reference) == ["INV-Y1", "inv-y1"]  # pushed once
    assert booked["remote_id"] == by_reference["INV-Y1"]["document_id"]
    # The invoice number Yuki holds on our item (stock Yuki publishes no other number).
    assert booked["booking_number"] == by_reference["INV-Y1"]["reference"] == "INV-Y1"


async def test_an_item_typed_by_hand_like_ours_is_ambiguous(
    yuki: Yuki, sessionmaker: Sessions
) -> None:
    ours = document(yuki.integration, "INV-Y2")
    await _typed_by_hand(yuki, document(yuki.integration, "inv-y2"))  # same date and total
    await _fault(yuki, "timeout")  # the push is not applied

    await yuki.sync(ours)

    assert yuki.booked() == {}
    failure = yuki.failed()[str(ours.id)]
    assert failure["code"] == "ambiguous_match" and failure["retryable"] is True
    assert "inv-y2" in failure["message"] and marker(ours.id) in failure["message"]
    assert [d["reference"] for d in (await yuki.state())["documents"]] == ["inv-y2"]
    async with sessionmaker() as session:
        state = await session.scalar(select(LedgerEntry.state).filter_by(document_id=ours.id))
    assert state == "attempting"
