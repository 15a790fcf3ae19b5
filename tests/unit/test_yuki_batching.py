"""The Yuki batcher over a fake SOAP client: a call Yuki refuses as a whole for one
invalid invoice is split until that invoice stands alone; an expired session is renewed."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from lxml import etree

from connector_yuki.batching import BatchKey, PendingInvoice, SalesInvoiceBatcher
from connector_yuki.documents import SALES_NS, InvoiceResult, SalesInvoiceXml
from connector_yuki.errors import SessionExpired
from connector_yuki.sessions import SessionPool
from connector_yuki.soap import YukiSoap

XSD = "The XML document is not valid according to SalesInvoices.xsd: line 1"


class FakeSoap:
    """Refuses a whole call holding BAD (as Yuki does on an XSD error); books the rest."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.sessions = 0
        self.expire_next = False

    async def authenticate(self, access_key: str) -> str:
        self.sessions += 1
        return f"session-{self.sessions}"

    async def process_sales_invoices(
        self, session: str, administration_id: str, xml_doc: bytes
    ) -> list[InvoiceResult]:
        if self.expire_next:
            self.expire_next = False
            raise SessionExpired("expired")
        root = etree.fromstring(xml_doc)
        refs = [e.text for e in root.iter(f"{{{SALES_NS}}}Reference")]
        self.calls.append(refs)
        if "BAD" in refs:
            return [InvoiceResult(False, r, XSD, "", "") for r in refs]
        return [InvoiceResult(True, r, "", f"id-{r}", f"n-{r}") for r in refs]


def invoice(reference: str) -> PendingInvoice:
    xml = f'<SalesInvoice xmlns="{SALES_NS}"><Reference>{reference}</Reference></SalesInvoice>'
    return PendingInvoice(reference, SalesInvoiceXml(xml.encode()))


def batcher(soap: FakeSoap) -> SalesInvoiceBatcher:
    typed = cast(YukiSoap, soap)  # duck-typed fake of the SOAP client
    return SalesInvoiceBatcher(typed, SessionPool(typed), window=0.05, max_size=100)


async def test_one_schema_invalid_invoice_is_isolated_by_halving() -> None:
    soap = FakeSoap()
    sender, key = batcher(soap), BatchKey("adm", "key")
    refs = [f"R{n}" for n in range(7)] + ["BAD"]
    results: list[Any] = await asyncio.gather(*(sender.submit(key, invoice(r)) for r in refs))
    assert [r.succeeded for r in results] == [True] * 7 + [False]
    assert results[-1].message == XSD
    assert soap.calls[0] == refs and ["BAD"] in soap.calls
    assert len(soap.calls) <= 7  # 1 + 2 per halving level


async def test_an_expired_session_is_renewed_once_for_the_batch() -> None:
    soap = FakeSoap()
    sender, key = batcher(soap), BatchKey("adm", "key")
    await sender.submit(key, invoice("A"))
    soap.expire_next = True
    results = await asyncio.gather(
        sender.submit(key, invoice("B")), sender.submit(key, invoice("C"))
    )
    assert all(r.succeeded for r in results)
    assert soap.sessions == 2
