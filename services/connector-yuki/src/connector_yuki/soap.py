"""Yuki's .asmx services through zeep (untyped, so it stays in here): one AsyncClient per
service WSDL, loaded on first use; every failure leaves as a ``SyncError`` via errors.py.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time
from typing import Any

import httpx
import zeep
from lxml import etree
from zeep.transports import AsyncTransport

from connector_yuki import errors
from connector_yuki.archive import (
    ArchivedDocument,
    Folder,
    Upload,
    parse_documents,
    parse_folders,
)
from connector_yuki.documents import (
    InvoiceResult,
    OutstandingItem,
    parse_administrations,
    parse_import_response,
    parse_outstanding_items,
)
from invoicesync_shared.connectors.call_count import count_call, count_decision

SYSTEM = "yuki"
SALES, ACCOUNTING, ARCHIVE = "Sales", "Accounting", "Archive"
ALL_YEARS = datetime(1, 1, 1)  # "'0001-01-01' as date selection to search all years"
ANY_FOLDER = -1  # "-1 as Folder or Tab … to search all folders or tabs"
_PARSER: Any = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


class YukiSoap:
    """Typed calls to Yuki; session handling is the caller's (see sessions.py)."""

    def __init__(self, base_url: str, *, timeout: float) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            limits=httpx.Limits(max_connections=50),
            event_hooks={"response": [errors.raise_for_non_soap]},
        )
        self._clients: dict[str, Any] = {}
        self._loading = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def authenticate(self, access_key: str) -> str:
        """A new session; raises ``AuthorizationLost`` (``access_key_refused``) for a key
        Yuki refuses."""
        session = await self._call(SALES, "Authenticate", is_write=False, accessKey=access_key)
        return str(session or "").strip()

    async def administrations(self, session: str) -> dict[str, str]:
        """Administration ID → name, for every administration the key may use."""
        result = await self._call(SALES, "Administrations", is_write=False, sessionID=session)
        return parse_administrations(_xml(result))

    async def process_sales_invoices(
        self, session: str, administration_id: str, xml_doc: bytes
    ) -> list[InvoiceResult]:
        """One result per ``<SalesInvoice>`` of ``xml_doc``, in order."""
        result = await self._call(
            SALES,
            "ProcessSalesInvoices",
            is_write=True,
            sessionId=session,
            administrationId=administration_id,
            xmlDoc=etree.fromstring(xml_doc, _PARSER),  # s:any: embedded elements, not text
        )
        try:
            return parse_import_response(_xml(result))
        except (etree.XMLSyntaxError, ValueError) as exc:
            raise errors.classify_call(exc, is_write=True) from exc

    async def check_outstanding_item(
        self, session: str, administration_id: str, reference: str
    ) -> list[OutstandingItem]:
        """Booked items of one administration matching ``reference`` (or a booking number
        or document ID: callers compare the Reference themselves)."""
        result = await self._call(
            ACCOUNTING,
            "CheckOutstandingItemAdmin",
            is_write=False,
            sessionID=session,
            administrationID=administration_id,
            Reference=reference,
        )
        return parse_outstanding_items(_xml(result))

    async def outstanding_debtor_items(
        self, session: str, administration_id: str
    ) -> list[OutstandingItem]:
        """Booked sales items of one administration with an amount still open."""
        result = await self._call(
            ACCOUNTING,
            "OutstandingDebtorItems",
            is_write=False,
            sessionID=session,
            administrationID=administration_id,
            includeBankTransactions=False,
            sortOrder="DateAsc",
        )
        return parse_outstanding_items(_xml(result))

    async def outstanding_debtor_items_by_date(
        self, session: str, administration_id: str, start: date, end: date
    ) -> list[OutstandingItem]:
        """Open sales items of one administration dated from ``start`` to ``end``."""
        result = await self._call(
            ACCOUNTING,
            "OutstandingDebtorItemsByDate",
            is_write=False,
            sessionID=session,
            administrationID=administration_id,
            includeBankTransactions=False,
            sortOrder="DateAsc",
            startDate=datetime.combine(start, time()),
            endDate=datetime.combine(end, time()),
        )
        return parse_outstanding_items(_xml(result))

    async def document_folders(self, session: str) -> list[Folder]:
        """The archive's folders (of the session's current domain: no administration)."""
        result = await self._call(ARCHIVE, "DocumentFolders", is_write=False, sessionID=session)
        return parse_folders(_xml(result))

    async def upload_document_with_data(
        self, session: str, administration_id: str, folder: int, upload: Upload
    ) -> str:
        """The new archive document's ID (Yuki's answer string)."""
        result = await self._call(
            ARCHIVE,
            "UploadDocumentWithData",
            is_write=True,
            sessionID=session,
            fileName=upload.file_name,
            data=upload.data,
            folder=folder,
            administrationID=administration_id,
            currency=upload.currency,
            amount=upload.amount,
            costCategory="",
            paymentMethod=upload.payment_method,
            project="",
            remarks=upload.remarks,
        )
        document_id = str(result or "").strip().lower()
        if not document_id:
            raise errors.classify_call(
                ValueError("UploadDocumentWithData answered no document ID"), is_write=True
            )
        return document_id

    async def search_documents(self, session: str, text: str) -> list[ArchivedDocument]:
        """Archive documents of every folder and year with ``text`` in any field Yuki
        searches ("All": an upload's Subject is its file name; processing may rename the
        Subject, which the caller then reads against FileName)."""
        result = await self._call(
            ARCHIVE,
            "SearchDocuments",
            is_write=False,
            sessionID=session,
            searchOption="All",
            searchText=text,
            folderID=ANY_FOLDER,
            tabID=ANY_FOLDER,
            sortOrder="CreatedAsc",
            startDate=ALL_YEARS,
            endDate=ALL_YEARS,
            numberOfRecords=10,
            startRecord=1,
        )
        return parse_documents(_xml(result))

    async def documents_in_folder(
        self, session: str, folder: int, count: int
    ) -> list[ArchivedDocument]:
        """The ``count`` newest documents of an archive folder (DocumentsInFolder, sorted
        CreatedDesc, all years): read from the folder itself, so a fresh upload shows
        while SearchDocuments' text index may still miss it."""
        result = await self._call(
            ARCHIVE,
            "DocumentsInFolder",
            is_write=False,
            sessionID=session,
            folderID=folder,
            sortOrder="CreatedDesc",
            startDate=ALL_YEARS,
            endDate=ALL_YEARS,
            numberOfRecords=count,
            startRecord=1,
        )
        return parse_documents(_xml(result))

    async def _call(self, service: str, operation: str, *, is_write: bool, **params: Any) -> Any:
        try:
            proxy = await self._service(service)
            count_call(SYSTEM, "POST")  # each operation is one SOAP POST
            return await getattr(proxy, operation)(**params)
        except Exception as exc:
            admin = params.get("administrationId") or params.get("administrationID")
            decision = errors.classify_call(exc, is_write=is_write, administration=admin)
            count_decision(SYSTEM, decision)
            raise decision from exc

    async def _service(self, name: str) -> Any:
        if name not in self._clients:
            async with self._loading:
                if name not in self._clients:
                    # zeep loads a WSDL synchronously: off the event loop.
                    self._clients[name] = await asyncio.to_thread(self._load, name)
        return self._clients[name].service

    def _load(self, name: str) -> Any:
        with httpx.Client(timeout=self._timeout) as wsdl_http:
            transport = AsyncTransport(client=self._http, wsdl_client=wsdl_http)  # type: ignore[no-untyped-call]
            return zeep.AsyncClient(  # type: ignore[no-untyped-call]
                f"{self._base_url}/ws/{name}.asmx?WSDL",
                transport=transport,
                settings=zeep.Settings(strict=False, xml_huge_tree=True),
            )


def _xml(value: Any) -> bytes:
    """A Result of type s:any as bytes: embedded elements, escaped text, or a list."""
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, list):
        wrapper = etree.Element("Result")
        for item in value:
            if etree.iselement(item):
                wrapper.append(item)
        return bytes(etree.tostring(wrapper))
    if etree.iselement(value):
        return bytes(etree.tostring(value))
    inner = getattr(value, "_value_1", None)
    if inner is not None:
        return _xml(inner)
    raise ValueError(f"unexpected Yuki result of type {type(value).__name__}")
