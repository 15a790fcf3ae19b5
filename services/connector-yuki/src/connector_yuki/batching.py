"""Many pushes per ProcessSalesInvoices call: Yuki processes the invoices of one call one
by one, so a batch costs one round trip, and each push still gets its own result."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog
from prometheus_client import Histogram

from connector_yuki import errors
from connector_yuki.documents import InvoiceResult, SalesInvoiceXml, sales_invoices
from connector_yuki.sessions import SessionPool
from connector_yuki.soap import YukiSoap
from invoicesync_shared.connectors.batching import MicroBatcher
from invoicesync_shared.connectors.errors import SyncError, UnknownOutcome

log = structlog.get_logger()
BATCH_SIZES = Histogram(
    "invoicesync_yuki_batch_size",
    "Invoices per ProcessSalesInvoices call",
    buckets=(1, 2, 5, 10, 25, 50, 100, 150, 200, 500),
)
Outcome = InvoiceResult | SyncError


@dataclass(frozen=True)
class BatchKey:
    """Invoices for one administration, sent with one access key."""

    administration_id: str
    access_key: str = field(repr=False)


@dataclass(frozen=True)
class PendingInvoice:
    reference: str
    xml: SalesInvoiceXml


class SalesInvoiceBatcher:
    def __init__(
        self,
        soap: YukiSoap,
        sessions: SessionPool,
        *,
        window: float,
        max_size: int,
        pause: float | None = None,
        max_wait: float | None = None,
    ) -> None:
        self._soap = soap
        self._sessions = sessions
        self._batcher: MicroBatcher[BatchKey, PendingInvoice, InvoiceResult] = MicroBatcher(
            self._send, window=window, max_size=max_size, pause=pause, max_wait=max_wait
        )

    def follow(self, backlog: Callable[[], int]) -> None:
        """Full calls while the consumer has more invoices coming (see MicroBatcher)."""
        self._batcher.follow(backlog)

    async def submit(self, key: BatchKey, invoice: PendingInvoice) -> InvoiceResult:
        """Yuki's result for this invoice (booked or refused); raises a ``SyncError``
        when the call carrying it failed as a whole."""
        return await self._batcher.submit(key, invoice)

    async def drain(self) -> None:
        await self._batcher.drain()

    async def _send(self, key: BatchKey, invoices: Sequence[PendingInvoice]) -> list[Outcome]:
        xml_doc = sales_invoices([i.xml for i in invoices])
        started = time.monotonic()
        try:
            results = await self._sessions.call(
                key.access_key,
                lambda session: self._soap.process_sales_invoices(
                    session, key.administration_id, xml_doc
                ),
            )
        except SyncError as exc:
            log.warning("yuki batch failed", size=len(invoices), error=str(exc))
            return [errors.replicate(exc) for _ in invoices]
        BATCH_SIZES.observe(len(invoices))
        log.info(
            "yuki batch sent",
            size=len(invoices),
            succeeded=sum(r.succeeded for r in results),
            seconds=round(time.monotonic() - started, 3),
        )
        if len(invoices) > 1 and errors.is_schema_rejection(results):
            # One invalid invoice makes Yuki refuse the whole call: halve until it stands alone.
            return await self._split(key, invoices)
        return _align(invoices, results)

    async def _split(self, key: BatchKey, invoices: Sequence[PendingInvoice]) -> list[Outcome]:
        middle = len(invoices) // 2
        first, second = await asyncio.gather(
            self._send(key, invoices[:middle]), self._send(key, invoices[middle:])
        )
        return first + second


def _align(invoices: Sequence[PendingInvoice], results: list[InvoiceResult]) -> list[Outcome]:
    """Results in the order sent; one that cannot be matched is an unknown outcome."""
    if len(results) != len(invoices):
        return [
            UnknownOutcome(f"Yuki answered {len(results)} results for {len(invoices)} invoices")
            for _ in invoices
        ]
    return [
        result
        if result.reference in ("", invoice.reference)
        else UnknownOutcome(f"Yuki answered for {result.reference!r} in place of ours")
        for invoice, result in zip(invoices, results, strict=True)
    ]
